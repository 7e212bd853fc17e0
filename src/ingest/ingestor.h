#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/event.h"
#include "core/histogram.h"
#include "core/sync.h"
#include "ingest/dedupe_index.h"
#include "store/event_log.h"

namespace meter::ingest {

struct IngestorOptions {
  // An id is remembered this long after it was received: the late window plus a week in which
  // a client may retry an event whose answer it lost (docs/decisions.md).
  std::chrono::milliseconds dedupe_window = std::chrono::days(42);
  // Events whose timestamp is older than this are refused, unless their id is already stored
  // (then they are duplicates). Also bounds the rebuild scan.
  std::chrono::milliseconds late_window = std::chrono::days(35);
  std::size_t max_group_events = 50'000;      // events per commit (one fsync)
  std::size_t max_queued_events = 1'000'000;  // beyond this, submit() answers "unavailable"
  // When fewer than linger_below events are waiting, wait this long for more before writing,
  // so that one fsync serves more requests. 0 disables.
  std::chrono::microseconds linger = std::chrono::microseconds(200);
  std::size_t linger_below = 32;
};

// What happened to one submitted event.
struct Outcome {
  enum Kind { kStored, kDuplicate, kRefused };
  Kind kind = kStored;
  std::optional<Error> error;  // why it was refused (e.g. over a hard quota)

  friend bool operator==(const Outcome& a, const Outcome& b) { return a.kind == b.kind; }
};
using Outcomes = std::vector<Outcome>;  // one per submitted event, in order
using Completion = std::move_only_function<void(Result<Outcomes>)>;

// Decides, in the writer thread and in arrival order, whether each new (not duplicate) event
// may be stored, and counts it if so (live quota counters). Because admission and counting
// happen in one thread, concurrent requests racing at a limit cannot overshoot it.
class Admission {
 public:
  virtual ~Admission() = default;
  // Before a group's events are admitted: a chance to bring the counters up to date (with a
  // shared log, from what every writer stored). Failing fails the group.
  virtual Status prepare(std::span<const Event* const> /*group*/) { return {}; }
  // Why the event must be refused, or nullopt when it is admitted and now counted.
  virtual std::optional<Error> admit(const Event& event) = 0;
  // After the group's last admit(), before its events are appended: a chance to hand the store
  // what it writes in the same transaction (credit burns). Failing fails the group.
  virtual Status before_append() { return {}; }
  // The group's write failed: un-count everything admitted since the last settle().
  virtual void rollback() = 0;
  // The group is on disk: what was admitted stays counted.
  virtual void settle() = 0;
  // After settle(): an admitted event the store found already stored by another writer (a
  // shared log) was not stored by this one; take it out of the counts.
  virtual void uncount(const Event& /*event*/) {}
};

struct IngestCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> failed_commits{0};
  // Unix ms of the last failed and the last successful commit (0 = none yet): /health says
  // "failing" while the newest commit failed.
  std::atomic<std::int64_t> last_failed_commit_ms{0};
  std::atomic<std::int64_t> last_commit_ms{0};
  Histogram commit_latency;  // one group commit: the store's append, fsync included
};

// The durable write path: deduplicates events and stores them with group commit.
//
// Requests from any thread are queued; one writer thread (owned here, started by start() and
// joined by stop()) takes everything queued, claims each id in the dedupe index (an id already
// there makes its event a duplicate), appends the fresh events to the store in one transaction
// (one fsync shared by all the requests) and calls each request's completion. A failed write
// withdraws its claims before the thread looks at anything else, so no one ever sees an id
// without its stored event and the client's retry is stored. Completions run on the writer
// thread and must be quick.
class Ingestor {
 public:
  // `admission` may be null (everything is admitted); it must outlive the ingestor.
  Ingestor(store::EventLog& store, DedupeIndex& index, const Clock& clock, IngestorOptions options,
           Admission* admission = nullptr);
  ~Ingestor();

  // Rebuilds the dedupe index from the store and starts the writer thread. With `after` (the
  // index already holds every id stored up to it: a snapshot), only the events past it are read.
  Status start(const store::RowCursor* after = nullptr);

  // What a submission is. A correction (docs/corrections.md: retractions and the events that
  // replace them) is committed in a group of its own and all or none: if one of its events is
  // refused (a hard quota), or it withdraws events and part of it was stored before (another
  // correction of the same events), nothing of it is stored and `done` gets the error; sent
  // again whole, it is answered all duplicates. Its events may be older than the late window: the caller
  // decided how old they may be.
  enum class Kind { kUsage, kCorrection };

  // Queues the events; `done` is called once they are durably stored, or with an error.
  void submit(std::vector<Event> events, Completion done, Kind kind = Kind::kUsage);

  // Runs `task` on the writer thread between two groups (after everything queued before it is
  // stored): for changes to what admission decides on, which must not land in the middle of a
  // group. false when the ingestor is stopping (the task does not run).
  bool run_between_groups(std::move_only_function<void()> task);

  // Stores everything already queued, then stops the writer. Later submits fail.
  void stop();

  std::size_t queued_events() const { return queued_events_.load(); }
  std::size_t dedupe_size() const { return dedupe_size_.load(); }
  bool dedupe_filter_ready() const { return dedupe_filter_ready_.load(); }
  const IngestCounters& counters() const { return counters_; }

 private:
  struct Request {
    std::vector<Event> events;
    Completion done;
    Kind kind = Kind::kUsage;
    std::move_only_function<void()> task;  // run_between_groups(): no events
  };
  // Why a correction's outcomes break all-or-none, to fail it with; nullopt when they don't.
  // `retracts`: it withdraws events.
  static std::optional<Error> partial_correction(const Outcomes& outcomes, bool retracts);
  // Hands the group's claims to the index (an index on disk writes them), with a checkpoint when due.
  void persist_claims(Timestamp now);
  // The store's rows now, once every id stored past the last checkpoint is in the index.
  Result<store::RowCursor> next_checkpoint(Timestamp now);

  void run();
  void commit(std::vector<Request>& group);
  bool redoing_ = false;  // commit() is running a group again (EventLog::take_redo)

  store::EventLog& store_;
  DedupeIndex& index_;  // touched only by the writer thread (and start() before it runs)
  const Clock& clock_;
  IngestorOptions options_;
  Admission* admission_;  // used only by the writer thread

  Mutex mutex_;
  CondVar wake_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::atomic<std::size_t> queued_events_{0};
  std::atomic<std::size_t> dedupe_size_{0};
  std::atomic<bool> dedupe_filter_ready_{true};
  // How often an idle writer lets the index take in background work while its filter is built.
  static constexpr std::chrono::seconds kIdlePoll{1};
  IngestCounters counters_;
  Timestamp next_expiry_{};
  static constexpr std::chrono::seconds kCheckpointInterval{1};
  Timestamp next_checkpoint_{};
  store::RowCursor checkpoint_;                // writer thread only: the index's last checkpoint
  std::uint64_t stored_since_checkpoint_ = 0;  // writer thread only: events this writer stored since
  std::vector<Event> fresh_;                   // writer thread only: reused between groups
  std::vector<DedupeKey> fresh_keys_;
  std::vector<DedupeKey> group_keys_;      // writer thread only: for an index that looks a group up at once
  std::vector<std::size_t> fresh_claims_;  // writer thread only: which claim each fresh_ event came from
  struct Claim {
    Event* event;
    std::size_t request, index;  // where its outcome goes
    DedupeKey key;
  };
  std::vector<Claim> claims_;               // writer thread only: the group's events in order
  std::vector<const Event*> group_events_;  // writer thread only: the same, for Admission::prepare
  std::thread writer_;
};

}  // namespace meter::ingest

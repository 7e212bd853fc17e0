#include "ingest/ingestor.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

#include "ingest/disk_dedupe_index.h"
#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

Event event(std::string tenant, std::string id, std::string_view quantity = "1") {
  return testing::make_event(std::move(tenant), std::move(id), "query", quantity, kNow);
}

// The real SQLite event log, whose appends a test may change (the other calls go to it as they are).
class WrappedLog : public store::EventLog {
 public:
  explicit WrappedLog(store::EventLog& real) : inner_(real) {}
  Result<AlreadyStored> append(std::span<const Event> events) override { return inner_.append(events); }
  Status scan_recent_ids(Timestamp received_since, Timestamp timestamp_since, const store::RowCursor* after,
                         const store::IdVisitor& visit) override {
    return inner_.scan_recent_ids(received_since, timestamp_since, after, visit);
  }
  Result<store::RowCursor> row_cursor() override { return inner_.row_cursor(); }
  Result<std::int64_t> rows_after(const store::RowCursor& cursor) override {
    return inner_.rows_after(cursor);
  }
  Status scan_for_quotas(Timestamp since, const store::TypeFilter& summable,
                         const store::EventVisitor& visit) override {
    return inner_.scan_for_quotas(since, summable, visit);
  }

 protected:
  store::EventLog& inner_;
};

// The real SQLite event log, made to fail its next appends on demand.
class FlakyStore final : public WrappedLog {
 public:
  using WrappedLog::WrappedLog;
  Result<AlreadyStored> append(std::span<const Event> events) override {
    if (failures_left_ > 0) {
      --failures_left_;
      return fail(Error::unavailable("disk on fire"));
    }
    return inner_.append(events);
  }
  int failures_left_ = 0;
};

constexpr Outcome kStored{Outcome::kStored, std::nullopt};
constexpr Outcome kDup{Outcome::kDuplicate, std::nullopt};

Result<Outcomes> submit_and_wait(Ingestor& ingestor, std::vector<Event> events) {
  std::promise<Result<Outcomes>> promise;
  auto future = promise.get_future();
  ingestor.submit(std::move(events), [&](Result<Outcomes> r) { promise.set_value(std::move(r)); });
  return future.get();
}

std::string stored_total(store::UsageStore& store, std::string tenant) {
  auto rows = store.usage({std::move(tenant), std::nullopt, kNow - std::chrono::days(40),
                           kNow + std::chrono::days(1), Window::kMonth});
  EXPECT_TRUE(rows);
  Decimal total;
  for (const auto& r : *rows) total = *total.checked_add(r.quantity);
  return total.to_string();
}

class IngestorTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  SimulatedClock clock_{kNow};
  std::filesystem::path db_ = dir_ / "meterd.db";
};

// Verifies repeats within one request and across requests are stored once and flagged.
TEST_F(IngestorTest, CountsEachIdOnce) {
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  auto first =
      submit_and_wait(ingestor, {event("a", "1"), event("a", "2"), event("a", "1"), event("b", "1")});
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (Outcomes{kStored, kStored, kDup, kStored}));
  auto second = submit_and_wait(ingestor, {event("a", "2"), event("a", "3")});
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, (Outcomes{kDup, kStored}));
  EXPECT_EQ(stored_total(store, "a"), "3");
  EXPECT_EQ(stored_total(store, "b"), "1");
  EXPECT_EQ(ingestor.counters().duplicates.load(), 2u);
}

// Verifies a failed write claims no id, so the client's retry is stored.
TEST_F(IngestorTest, FailedWriteDoesNotSwallowRetry) {
  store::sqlite::SqliteStore real({db_});
  FlakyStore store(real);
  store.failures_left_ = 1;
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  auto failed = submit_and_wait(ingestor, {event("a", "1", "5")});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  auto retried = submit_and_wait(ingestor, {event("a", "1", "5")});
  ASSERT_TRUE(retried);
  EXPECT_EQ(*retried, Outcomes{kStored});
  EXPECT_EQ(stored_total(real, "a"), "5");
}

// Verifies ids stored before a restart are still recognised after it, within the window only.
TEST_F(IngestorTest, RemembersIdsAcrossRestart) {
  {
    store::sqlite::SqliteStore store({db_});
    InMemoryDedupeIndex index;
    Ingestor ingestor(store, index, clock_, {});
    ASSERT_TRUE(ingestor.start());
    ASSERT_TRUE(submit_and_wait(ingestor, {event("a", "1")}));
  }
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  EXPECT_EQ(ingestor.dedupe_size(), 1u);
  auto again = submit_and_wait(ingestor, {event("a", "1")});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, Outcomes{kDup});

  IngestorOptions short_window;
  short_window.dedupe_window = std::chrono::hours(1);
  clock_.advance(std::chrono::hours(2));
  InMemoryDedupeIndex fresh_index;
  Ingestor later(store, fresh_index, clock_, short_window);
  ASSERT_TRUE(later.start());
  EXPECT_EQ(later.dedupe_size(), 0u);
}

// Verifies the disk index and the store agree after a crash: events stored past the index's
// checkpoint, whose claims were lost with the process, are read again at start.
TEST_F(IngestorTest, DiskIndexReadsRowsPastItsCheckpoint) {
  store::sqlite::SqliteStore store({db_});
  auto dir = dir_ / "dedupe";
  {
    auto index = DiskDedupeIndex::open(dir, {});
    ASSERT_TRUE(index);
    Ingestor ingestor(store, **index, clock_, {});
    ASSERT_TRUE(ingestor.start());
    ASSERT_TRUE(submit_and_wait(ingestor, {event("a", "1")}));
  }
  {
    // The crash: an event stored whose claim never reached the disk index.
    InMemoryDedupeIndex lost;
    Ingestor ingestor(store, lost, clock_, {});
    ASSERT_TRUE(ingestor.start());
    ASSERT_TRUE(submit_and_wait(ingestor, {event("a", "2")}));
  }
  auto index = DiskDedupeIndex::open(dir, {});
  ASSERT_TRUE(index);
  EXPECT_TRUE((*index)->contains(dedupe_key("a", "1")));
  EXPECT_FALSE((*index)->contains(dedupe_key("a", "2")));
  auto rows = store.row_cursor();
  ASSERT_TRUE(rows);
  auto resume = (*index)->resume_point(*rows);
  ASSERT_TRUE(resume && *resume);
  Ingestor ingestor(store, **index, clock_, {});
  ASSERT_TRUE(ingestor.start(&**resume));
  auto again = submit_and_wait(ingestor, {event("a", "1"), event("a", "2"), event("a", "3")});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, (Outcomes{kDup, kDup, kStored}));
  EXPECT_EQ(stored_total(store, "a"), "3");
}

// Verifies concurrent submitters racing with the same ids store each id exactly once.
TEST_F(IngestorTest, ConcurrentDuplicatesStoredOnce) {
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int batch = 0; batch < 20; ++batch) {
        std::vector<Event> events;
        for (int i = 0; i < 50; ++i) events.push_back(event("a", std::to_string(batch * 50 + i)));
        auto r = submit_and_wait(ingestor, std::move(events));
        ASSERT_TRUE(r);
        for (const Outcome& o : *r) stored += o.kind == Outcome::kStored ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 1000);
  EXPECT_EQ(stored_total(store, "a"), "1000");
}

// Verifies stop() stores what was queued before it returns.
TEST_F(IngestorTest, StopDrainsQueue) {
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    ingestor.submit({event("a", std::to_string(i))}, [&](Result<Outcomes> r) { done += r ? 1 : 0; });
  }
  ingestor.stop();
  EXPECT_EQ(done.load(), 100);
  EXPECT_EQ(stored_total(store, "a"), "100");
  auto late = submit_and_wait(ingestor, {event("a", "x")});
  EXPECT_FALSE(late);
}

// Verifies the late window is applied after dedupe: a retry of a stored event whose timestamp
// has since aged past the window is a duplicate; a new event that old is refused.
TEST_F(IngestorTest, LateRetryOfStoredEventIsDuplicate) {
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  IngestorOptions options;
  options.late_window = std::chrono::days(1);
  Ingestor ingestor(store, index, clock_, options);
  ASSERT_TRUE(ingestor.start());
  Timestamp edge = kNow - std::chrono::days(1) + std::chrono::seconds(3);
  auto first = submit_and_wait(ingestor, {testing::make_event("a", "edge", "query", "1", edge)});
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, Outcomes{kStored});
  clock_.advance(std::chrono::seconds(5));
  auto retry = submit_and_wait(ingestor, {testing::make_event("a", "edge", "query", "1", edge),
                                          testing::make_event("a", "new", "query", "1", edge)});
  ASSERT_TRUE(retry);
  EXPECT_EQ((*retry)[0], kDup);
  ASSERT_EQ((*retry)[1].kind, Outcome::kRefused);
  EXPECT_EQ((*retry)[1].error->field, "timestamp");
  EXPECT_NE((*retry)[1].error->message.find("late-arrival window"), std::string::npos);
  EXPECT_EQ(stored_total(store, "a"), "1");
}

// The real store, whose first append waits until released: lets a test queue several requests
// so that the writer takes them as one group.
class GatedStore final : public WrappedLog {
 public:
  using WrappedLog::WrappedLog;
  Result<AlreadyStored> append(std::span<const Event> events) override {
    if (!passed_.exchange(true)) {
      entered_.set_value();
      gate_.get_future().wait();
    }
    return inner_.append(events);
  }
  std::atomic<bool> passed_{false};
  std::promise<void> entered_;
  std::promise<void> gate_;
};

// Verifies an event whose usage sums would overflow fails only its own request: another
// tenant's request committed in the same group is stored, in-group and against stored sums.
TEST_F(IngestorTest, OverflowFailsOnlyItsOwnRequest) {
  store::sqlite::SqliteStore real({db_});
  GatedStore store(real);
  InMemoryDedupeIndex index;
  Ingestor ingestor(store, index, clock_, {});
  ASSERT_TRUE(ingestor.start());
  auto entered = store.entered_.get_future();
  std::promise<Result<Outcomes>> opener, hostile, neighbour;
  ingestor.submit({event("c", "open")}, [&](Result<Outcomes> r) { opener.set_value(std::move(r)); });
  entered.wait();  // the writer holds the first group; the next two queue up together
  ingestor.submit(
      {event("a", "big1", "100000000000000000000000000"), event("a", "big2", "100000000000000000000000000")},
      [&](Result<Outcomes> r) { hostile.set_value(std::move(r)); });
  ingestor.submit({event("b", "fine", "2")}, [&](Result<Outcomes> r) { neighbour.set_value(std::move(r)); });
  store.gate_.set_value();
  ASSERT_TRUE(opener.get_future().get());
  auto refused = hostile.get_future().get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message.find("tenant"), std::string::npos);  // names no tenant
  auto stored = neighbour.get_future().get();
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(*stored, Outcomes{kStored});
  EXPECT_EQ(stored_total(real, "b"), "2");
  EXPECT_EQ(ingestor.counters().failed_commits.load(), 0u);  // the data's fault, not the disk's

  // Against a stored sum: one big event is stored, the next overflows the rollup in SQL.
  auto one = submit_and_wait(ingestor, {event("a", "big3", "100000000000000000000000000")});
  ASSERT_TRUE(one);
  auto again = submit_and_wait(ingestor, {event("a", "big4", "100000000000000000000000000")});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidArgument);
  auto after = submit_and_wait(ingestor, {event("b", "after", "3")});  // no statement error left behind
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(stored_total(real, "b"), "5");
}

// A shared log as another node left it: the events whose id is in `elsewhere` were stored by that
// node, so this append stores the rest and reports those.
class SharedLog final : public WrappedLog {
 public:
  using WrappedLog::WrappedLog;
  Result<AlreadyStored> append(std::span<const Event> events) override {
    std::vector<Event> fresh;
    AlreadyStored already;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (elsewhere.contains(events[i].id))
        already.push_back(i);
      else
        fresh.push_back(events[i]);
    }
    if (auto s = inner_.append(fresh); !s) return fail(s.error());
    return already;
  }
  std::set<std::string> elsewhere;
};

// Counts what admission is told, to see which events are counted and taken back.
class CountingAdmission final : public Admission {
 public:
  std::optional<Error> admit(const Event&) override {
    ++admitted;
    return std::nullopt;
  }
  void rollback() override {}
  void settle() override {}
  void uncount(const Event& e) override { uncounted.push_back(e.id); }
  int admitted = 0;
  std::vector<std::string> uncounted;
};

// Verifies events a shared log found already stored by another writer are answered duplicate,
// counted as such, and taken back out of the quota counts.
TEST_F(IngestorTest, EventsAnotherNodeStoredAreDuplicates) {
  store::sqlite::SqliteStore real({db_});
  SharedLog log(real);
  log.elsewhere = {"2", "4"};
  InMemoryDedupeIndex index;
  CountingAdmission admission;
  Ingestor ingestor(log, index, clock_, {}, &admission);
  ASSERT_TRUE(ingestor.start());
  auto r = submit_and_wait(ingestor, {event("a", "1"), event("a", "2"), event("a", "3"), event("a", "4")});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (Outcomes{kStored, kDup, kStored, kDup}));
  EXPECT_EQ(admission.admitted, 4);
  EXPECT_EQ(admission.uncounted, (std::vector<std::string>{"2", "4"}));
  EXPECT_EQ(ingestor.counters().accepted.load(), 2u);
  EXPECT_EQ(ingestor.counters().duplicates.load(), 2u);
  EXPECT_EQ(stored_total(real, "a"), "2");
  auto retry = submit_and_wait(ingestor, {event("a", "2")});  // now in this node's index too
  ASSERT_TRUE(retry);
  EXPECT_EQ(*retry, Outcomes{kDup});
}

Result<Outcomes> correct_and_wait(Ingestor& ingestor, std::vector<Event> events) {
  std::promise<Result<Outcomes>> promise;
  auto future = promise.get_future();
  ingestor.submit(
      std::move(events), [&](Result<Outcomes> r) { promise.set_value(std::move(r)); },
      Ingestor::Kind::kCorrection);
  return future.get();
}

// Refuses events over 100 and remembers rollbacks: a hard quota, reduced to its effect.
class CappedAdmission final : public Admission {
 public:
  std::optional<Error> admit(const Event& e) override {
    if (e.quantity > *Decimal::from_integer(100)) return Error{ErrorCode::kRateLimited, "over", "quantity"};
    ++admitted;
    return std::nullopt;
  }
  void rollback() override { ++rollbacks; }
  void settle() override {}
  int admitted = 0, rollbacks = 0;
};

// Verifies a correction is stored whole or not at all: older than the late window, refused
// whole when one of its events is, refused whole when part of it was stored by another
// correction, and answered all duplicates when sent again.
TEST_F(IngestorTest, CorrectionsAreAllOrNone) {
  store::sqlite::SqliteStore store({db_});
  InMemoryDedupeIndex index;
  CappedAdmission admission;
  IngestorOptions options;
  options.late_window = std::chrono::days(1);
  Ingestor ingestor(store, index, clock_, options, &admission);
  ASSERT_TRUE(ingestor.start());
  Event old = testing::make_event("a", "old", "query", "40", kNow - std::chrono::hours(20));
  ASSERT_TRUE(submit_and_wait(ingestor, {old}));
  clock_.advance(std::chrono::days(2));  // "old" is now past the late window
  Event fixed = testing::make_event("a", "fixed", "query", "4", old.timestamp);
  std::vector<Event> amend{retraction_of(old, clock_.now(), "{}"), fixed};
  auto stored = correct_and_wait(ingestor, amend);
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, (Outcomes{kStored, kStored}));
  EXPECT_EQ(stored_total(store, "a"), "4");
  auto again = correct_and_wait(ingestor, amend);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, (Outcomes{kDup, kDup}));

  // The same event amended by another correction: its retraction is there already.
  Event other = testing::make_event("a", "other", "query", "5", old.timestamp);
  auto conflict = correct_and_wait(ingestor, {retraction_of(old, clock_.now(), "{}"), other});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  // One event over the cap: its neighbour and the retraction are not stored either.
  Event small = testing::make_event("a", "small", "query", "1", kNow);
  Event big = testing::make_event("a", "big", "query", "500", kNow);
  auto refused = correct_and_wait(ingestor, {retraction_of(fixed, clock_.now(), "{}"), small, big});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(admission.rollbacks, 2);
  EXPECT_EQ(stored_total(store, "a"), "4");
  // Their ids stayed free: the same events are stored when sent right.
  auto usage = correct_and_wait(ingestor, {retraction_of(fixed, clock_.now(), "{}"), other, small});
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, (Outcomes{kStored, kStored, kStored}));
  EXPECT_EQ(stored_total(store, "a"), "6");
  // A usage event that old is still refused.
  auto late = submit_and_wait(ingestor, {testing::make_event("a", "late", "query", "1", old.timestamp)});
  ASSERT_TRUE(late);
  EXPECT_EQ((*late)[0].kind, Outcome::kRefused);
}

}  // namespace
}  // namespace meter::ingest

#pragma once

// meter::Tracker: metering from inside a C++ service. track() queues an event in memory and
// returns at once; a background thread sends batches to meterd's /v1/events (keep-alive, API
// key). When meterd cannot be reached, batches are written to a spill file and shipped from it
// once meterd is back; every event carries its id, so meterd stores each exactly once, also
// when a spill is shipped twice after a crash. Instead of meterd, a Sink can take the batches:
// meter::store_sink() writes them straight into an embedded store (include/meter/store_sink.h).
//
// Thread-safety: track(), flush() and stats() may be called from any number of threads.
// Each thread appends to a buffer of its own (16 lanes, shared beyond 16 threads), so producers
// do not wait for each other; buffers keep their memory between batches (a burst's high-water
// mark, twice over, stays allocated).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace meter {

struct TrackedEvent {
  std::string tenant_id;
  std::string event_type;
  std::string quantity = "1";     // an exact decimal as text, e.g. "1500" or "0.25"
  std::string id;                 // the idempotency key; empty = generated (UUIDv7)
  std::string metadata = "{}";    // a JSON object, as text
  std::int64_t timestamp_ms = 0;  // Unix milliseconds; 0 = now
};

// What track() does when `capacity` events are already waiting.
enum class OverflowPolicy {
  kBlock,  // wait until the sender has made room
  kDrop,   // refuse the event (track() returns false; counted in stats().dropped); the buffer
           // still leaves on batch_size or flush_interval
  kSpill,  // append it to the spill file (a buffered write, no fsync), shipped later
};

struct TrackerOptions {
  std::string url = "http://127.0.0.1:8000";  // meterd
  std::string api_key;                        // Bearer key; empty when meterd has no keys
  std::size_t batch_size = 1000;              // events per request
  std::chrono::milliseconds flush_interval{1000};
  std::size_t capacity = 100'000;  // events held in memory (each producer may overshoot by one)
  OverflowPolicy overflow = OverflowPolicy::kSpill;
  std::filesystem::path spill_path = "meterd-spill.jsonl";
  std::chrono::milliseconds retry_backoff{500};  // after a failed send, doubling up to 30 s
};

struct TrackerStats {
  std::uint64_t tracked = 0;   // accepted by track()
  std::uint64_t sent = 0;      // acknowledged by meterd (stored or already stored)
  std::uint64_t rejected = 0;  // refused by meterd as invalid (never retried)
  std::uint64_t dropped = 0;   // refused by track() under OverflowPolicy::kDrop, or lost because
                               // the spill file could not be written (see last_error)
  std::uint64_t spilled = 0;   // written to the spill file
  std::uint64_t send_failures = 0;
  std::string last_error;  // the latest failed delivery's reason ("" when none yet)
};

// Where a tracker's batches go. By default meterd's /v1/events over HTTP (TrackerOptions::url);
// meter::store_sink() (include/meter/store_sink.h, library meter::tracker_store) writes them
// straight into an embedded store instead. Called from the tracker's own thread only.
class Sink {
 public:
  struct Delivery {
    bool delivered = false;      // false: unreachable or failing; the batch is spilled and retried
    std::uint64_t accepted = 0;  // stored now
    std::uint64_t known = 0;     // stored before (a retry): counted as sent all the same
    std::uint64_t rejected = 0;  // invalid; never retried
    std::string error;           // when not delivered: what went wrong and what to do

    static Delivery failure(std::string why) {
      Delivery d;
      d.error = std::move(why);
      return d;
    }
  };
  virtual ~Sink() = default;
  // `ndjson`: one /v1/events object per line, each with its id.
  virtual Delivery deliver(const std::string& ndjson) = 0;
};

class Tracker {
 public:
  explicit Tracker(TrackerOptions options);                     // batches go to meterd at options.url
  Tracker(TrackerOptions options, std::unique_ptr<Sink> sink);  // batches go to `sink`
  // Ships what is buffered (or spills it when meterd is unreachable), then stops.
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Queues the event; never waits for I/O (see OverflowPolicy for a full buffer). False only
  // when the event was dropped.
  bool track(const TrackedEvent& event);

  // Returns once everything tracked before the call has been sent to meterd or spilled, and,
  // if meterd is reachable, the spill file has been shipped.
  void flush();

  TrackerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meter

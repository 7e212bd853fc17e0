#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/deadline.h"
#include "core/histogram.h"
#include "core/sync.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/ship_log.h"

namespace meter::ingest {

struct ShipperOptions {
  std::size_t batch_size = 10'000;  // BUFFER_SIZE: ship as soon as this many events wait
  // Most events in one shipment while more than batch_size wait (never fewer than batch_size).
  std::size_t catch_up_size = 100'000;
  std::chrono::milliseconds flush_interval = std::chrono::seconds(1);  // FLUSH_INTERVAL_SECONDS
  std::chrono::milliseconds poll = std::chrono::milliseconds(20);      // how often the log is looked at
  std::chrono::milliseconds first_backoff = std::chrono::milliseconds(500);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(30);
  // A shipment in flight longer than this makes stalled() true (/health: unreachable). It is
  // not abandoned then: an insert ClickHouse has received but not yet run (a hung server) would
  // still land later, beside a resend. It is abandoned only at stop(), or past abandon_after
  // (a connection that died without a word).
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  std::chrono::milliseconds abandon_after = std::chrono::minutes(10);
  // Runs before the first shipment until it succeeds (e.g. creating the ClickHouse schema
  // when ClickHouse was down at start).
  std::function<Status()> prepare;
};

struct ShipperStats {
  std::atomic<std::uint64_t> shipped_events{0};
  std::atomic<std::uint64_t> shipped_batches{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> resumed_batches{0};  // in flight at a crash or failure, checked before resending
  std::atomic<std::int64_t> backlog_events{0};
  std::atomic<std::int64_t> oldest_waiting_ms{0};   // age of the oldest unshipped event, 0 = none
  std::atomic<bool> backend_up{false};              // true once a shipment or an empty poll succeeded
  std::atomic<bool> contacted{false};               // false until the first attempt ended, either way
  std::atomic<std::int64_t> in_flight_since_ms{0};  // steady-clock ms a shipment started, 0 = none
  Histogram batch_latency;  // one shipment: read from the log, insert into ClickHouse, confirm
};

// Moves acknowledged events from the local durable log to ClickHouse on a thread of its own:
// a batch leaves when batch_size events wait or the oldest has waited flush_interval. Each
// batch is recorded in the log as in flight, under a fresh batch id, before it is sent; if the
// send fails or meterd dies, the next attempt first asks ClickHouse how many rows of that batch
// it has: all of them = done, none = send again. So a batch lands exactly once. While
// ClickHouse is unreachable the backlog grows on disk and sending resumes with backoff.
class Shipper {
 public:
  Shipper(store::ShipLog& log, store::clickhouse::ClickHouseUsageStore& remote, Clock& clock,
          ShipperOptions options);
  ~Shipper();

  void start();
  // Ships what is waiting for at most `drain_for`, abandoning a shipment still in flight then
  // (safe: it resumes at the next start), and stops the thread.
  void stop(std::chrono::milliseconds drain_for = std::chrono::seconds(2));

  // The backlog as the local log holds it now (not as of the last poll).
  Result<store::Backlog> backlog() { return log_.backlog(); }
  // False while another node ships from the same (shared) log.
  bool ships_here() const { return log_.ships_here(); }
  // True while a shipment has been in flight longer than options.timeout: a hung backend.
  bool stalled() const;

  // One step: ships at most one batch if one is due (or `force`). Returns true if it shipped.
  // The thread calls this; tests and `meterd` commands may call it directly when not started.
  Result<bool> ship_once(bool force);

  // Runs options.prepare unless it already succeeded. Called before the first shipment; call
  // it before start() to learn early whether the backend is ready.
  Status prepare();

  const ShipperStats& stats() const { return stats_; }
  std::string last_error() const;

 private:
  void run();
  Status send(store::Shipment& shipment, std::future<Result<std::optional<store::Shipment>>>& ahead);

  store::ShipLog& log_;
  store::clickhouse::ClickHouseUsageStore& remote_;
  Clock& clock_;
  ShipperOptions options_;
  ShipperStats stats_;

  mutable Mutex mutex_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::chrono::steady_clock::time_point drain_until_ ABSL_GUARDED_BY(mutex_);
  Deadline* in_flight_ ABSL_GUARDED_BY(mutex_) = nullptr;  // the running shipment's, for stop()
  std::string last_error_ ABSL_GUARDED_BY(mutex_);
  bool prepared_ = false;  // only touched by the thread that ships
  // Read ahead while the previous shipment was on the wire, and recorded in flight when that
  // one was confirmed: the next to send. Only touched by the thread that ships.
  std::optional<store::Shipment> ahead_;
  std::thread thread_;
};

}  // namespace meter::ingest

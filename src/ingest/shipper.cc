#include "ingest/shipper.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <utility>

#include "core/identifier.h"

namespace meter::ingest {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

Shipper::Shipper(store::ShipLog& log, store::clickhouse::ClickHouseUsageStore& remote, Clock& clock,
                 ShipperOptions options)
    : log_(log), remote_(remote), clock_(clock), options_(options) {}

Shipper::~Shipper() { stop(milliseconds(0)); }

void Shipper::start() {
  // /health shows the backlog from the first request on, not after the first poll.
  if (auto backlog = log_.backlog(); backlog) stats_.backlog_events = backlog->events;
  thread_ = std::thread([this] { run(); });
}

void Shipper::stop(milliseconds drain_for) {
  {
    MutexLock lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    drain_until_ = std::chrono::steady_clock::now() + drain_for;
    if (in_flight_ != nullptr) in_flight_->tighten(drain_until_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Shipper::stalled() const {
  std::int64_t since = stats_.in_flight_since_ms.load();
  if (since == 0) return false;
  auto now = duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return now - since > options_.timeout.count();
}

std::string Shipper::last_error() const {
  MutexLock lock(mutex_);
  return last_error_;
}

Status Shipper::prepare() {
  if (prepared_ || !options_.prepare) return {};
  if (auto s = options_.prepare(); !s) return s;
  prepared_ = true;
  return {};
}

Result<bool> Shipper::ship_once(bool force) {
  auto backlog = log_.backlog();
  if (!backlog) return fail(backlog.error());
  Timestamp now = clock_.now();
  milliseconds age = backlog->oldest_received ? duration_cast<milliseconds>(now - *backlog->oldest_received)
                                              : milliseconds(0);
  stats_.backlog_events = backlog->events;
  stats_.oldest_waiting_ms = age.count();
  if (auto s = prepare(); !s) return fail(s.error());  // the first contact, events waiting or not
  bool due =
      backlog->events > 0 && (force || backlog->events >= static_cast<std::int64_t>(options_.batch_size) ||
                              age >= options_.flush_interval);
  if (!due) return false;

  auto started = std::chrono::steady_clock::now();
  std::size_t most = std::max(options_.batch_size, options_.catch_up_size);
  std::optional<store::Shipment> shipment = std::exchange(ahead_, std::nullopt);
  if (!shipment) {
    auto next = log_.next_shipment(most, new_event_id(now));
    if (!next) return fail(next.error());
    shipment = std::move(*next);
  }
  if (!shipment) return false;
  // A full batch more waits: read it from the log while this one is on the wire.
  std::future<Result<std::optional<store::Shipment>>> ahead;
  if (backlog->events - static_cast<std::int64_t>(shipment->events.size()) >=
      static_cast<std::int64_t>(options_.batch_size)) {
    ahead = std::async(std::launch::async, [this, &shipment, most, id = new_event_id(now)] {
      return log_.read_ahead(*shipment, most, id);
    });
  }
  if (auto s = send(*shipment, ahead); !s) return fail(s.error());
  stats_.batch_latency.observe(std::chrono::steady_clock::now() - started);
  stats_.backlog_events -= static_cast<std::int64_t>(shipment->events.size());
  return true;
}

Status Shipper::send(store::Shipment& shipment, std::future<Result<std::optional<store::Shipment>>>& ahead) {
  bool present = false;
  if (shipment.resumed) {
    // This batch may have reached ClickHouse before the failure or crash: look before sending.
    ++stats_.resumed_batches;
    auto rows = remote_.batch_rows(shipment.batch_id, shipment.month);
    if (!rows) return fail(rows.error());
    if (*rows == shipment.events.size()) {
      present = true;
    } else if (*rows != 0 && !remote_.resend_completes_partial_batch()) {
      return fail(Error::internal(fmt::format(
          "ClickHouse holds {} of the {} events of batch {} (month {}): a partial batch. Remove them "
          "(ALTER TABLE {}.usage_events DELETE WHERE batch_id = '{}') and meterd will send the batch again",
          *rows, shipment.events.size(), shipment.batch_id, shipment.month, remote_.database(),
          shipment.batch_id)));
    }
  }
  auto inserted = present ? remote_.insert_rollups(shipment.batch_id, shipment.events)
                          : remote_.insert_batch(shipment.batch_id, shipment.events);
  if (!inserted) return inserted;
  std::optional<store::Shipment> next;
  if (ahead.valid()) {
    // A failed read ahead costs only the overlap: the next shipment is read after this one.
    if (auto read = ahead.get(); read) next = std::move(*read);
  }
  if (auto s = next ? log_.confirm_and_begin(shipment, *next) : log_.confirm_shipment(shipment); !s) return s;
  ahead_ = std::move(next);
  stats_.shipped_events += present ? 0 : shipment.events.size();
  ++stats_.shipped_batches;
  return {};
}

void Shipper::run() {
  milliseconds backoff = options_.first_backoff;
  milliseconds wait = options_.poll;
  for (;;) {
    bool stopping = false;
    {
      MutexLock lock(mutex_);
      auto until = std::chrono::steady_clock::now() + wait;
      while (!stopping_ && wake_.wait_until(mutex_, until)) {
      }
      stopping = stopping_;
      if (stopping && std::chrono::steady_clock::now() >= drain_until_) return;
    }
    Result<bool> shipped = false;
    {
      // Under a deadline that stop() can cut short (options.abandon_after otherwise).
      auto start = std::chrono::steady_clock::now();
      Deadline deadline(start + options_.abandon_after);
      {
        MutexLock lock(mutex_);
        if (stopping_) deadline.tighten(drain_until_);
        in_flight_ = &deadline;
      }
      stats_.in_flight_since_ms = duration_cast<milliseconds>(start.time_since_epoch()).count();
      {
        Deadline::Scope scope(deadline);
        shipped = ship_once(stopping);
      }
      stats_.in_flight_since_ms = 0;
      stats_.contacted = true;
      MutexLock lock(mutex_);
      in_flight_ = nullptr;
      stopping = stopping_;
    }
    if (!shipped) {
      ++stats_.failures;
      if (stats_.backend_up.exchange(false) || stats_.failures.load() == 1) {
        spdlog::warn(
            "shipping to ClickHouse failed: {}; events keep being acknowledged into the local log "
            "({} waiting), retrying with backoff",
            shipped.error().message, stats_.backlog_events.load());
      }
      {
        MutexLock lock(mutex_);
        last_error_ = shipped.error().message;
      }
      if (stopping) return;  // no retries while shutting down: the log keeps the events
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    if (!stats_.backend_up.exchange(true) && stats_.failures.load() > 0) {
      spdlog::info("ClickHouse reachable again; shipping resumed");
    }
    backoff = options_.first_backoff;
    if (stopping && !*shipped) return;  // drained
    wait = *shipped ? milliseconds(0) : options_.poll;
  }
}

}  // namespace meter::ingest

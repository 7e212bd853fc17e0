#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/sync.h"
#include "store/postgres/connection.h"
#include "store/ship_log.h"

namespace meter::store::postgres {

struct ShipLogOptions {
  std::string url;
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // connect and each statement
  // How often a node that does not ship tries to take over, and refreshes the backlog it reports.
  std::chrono::milliseconds takeover_poll = std::chrono::seconds(1);
  // A shipment another node left in flight is looked up in ClickHouse only this long after it
  // started (the server's clock): an insert that node sent just before it died has landed by then.
  std::chrono::milliseconds takeover_grace = std::chrono::seconds(5);
  std::size_t backfill_chunk = 10'000;  // events per queued group when shipping is turned on
  // False for commands that only read: they must not start queueing events for a ClickHouse no
  // node ships to.
  bool turn_on = true;
};

// PostgreSQL as the shipper's log (store/ship_log.h) for every node sharing the database: the
// outbox of schema version 2. Each group's transaction queues (group, month) once the database
// ships (ship_state); the node holding a session advisory lock (kShipLock) drains the queue, so
// exactly one node ships at a time and another takes over within takeover_poll of its session
// ending (the node died, stopped or lost the server). A shipment is recorded in ship_in_flight,
// in PostgreSQL, before it is sent, so whichever node ships next checks ClickHouse for its
// batch id first, as the embedded log does.
//
// Thread-safety: every method may be called from any thread (one connection, under a mutex).
class PgShipLog final : public ShipLog {
 public:
  // Connects and (options.turn_on) turns shipping on for the database if it was off, queueing
  // every event already stored (once, whichever node does it; progress logged per month).
  static Result<std::unique_ptr<PgShipLog>> open(ShipLogOptions options);

  // nullopt also when another node ships (or a shipment it left is inside takeover_grace).
  Result<std::optional<Shipment>> next_shipment(std::size_t max_events,
                                                std::string_view new_batch_id) override;
  // Fails unless this node still holds the lock (a node that lost it leaves the batch to the next).
  Status confirm_shipment(const Shipment& shipment) override;
  // Every node's queue; refreshed at most every takeover_poll on a node that does not ship.
  Result<Backlog> backlog() override;

  bool ships_here() const override;  // this node holds the shipping lock

 private:
  explicit PgShipLog(ShipLogOptions options) : options_(std::move(options)) {}
  Result<Connection*> connection() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The connection if this node ships (taking the lock if it is free and due), else nullptr.
  Result<Connection*> leader() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The shipment in flight, or the next one recorded as in flight (see next_shipment()).
  Result<std::optional<Shipment>> take_shipment(Connection& c, std::size_t max_events,
                                                std::string_view new_batch_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // After a failed statement: a broken connection has lost the lock with its session.
  void forget_if_broken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  ShipLogOptions options_;
  mutable Mutex mutex_;
  std::unique_ptr<Connection> conn_ ABSL_GUARDED_BY(mutex_);
  bool leader_ ABSL_GUARDED_BY(mutex_) = false;
  std::chrono::steady_clock::time_point next_try_ ABSL_GUARDED_BY(mutex_);
  std::chrono::steady_clock::time_point backlog_until_ ABSL_GUARDED_BY(mutex_);
  Backlog backlog_ ABSL_GUARDED_BY(mutex_);
  std::string own_batch_ ABSL_GUARDED_BY(mutex_);  // the shipment this node put in flight
};

}  // namespace meter::store::postgres

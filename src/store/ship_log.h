#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/time.h"

namespace meter::store {

// A run of acknowledged events on its way from the local durable log to a remote backend.
// All its events belong to one UTC month (one partition on both sides).
struct Shipment {
  std::string batch_id;
  int month = 0;  // YYYYMM
  std::int64_t first_rowid = 0;
  std::int64_t last_rowid = 0;
  bool resumed = false;  // recorded by an earlier attempt (or run) that may have reached the backend
  std::vector<Event> events;
};

// What is waiting to be shipped.
struct Backlog {
  std::int64_t events = 0;
  std::optional<Timestamp> oldest_received;  // nullopt when nothing waits
};

// The local durable log seen from the shipper: a cursor per month over the stored events, and
// at most one shipment in flight, recorded durably before it is sent so that a crash leaves a
// batch id that can be checked on the backend.
class ShipLog {
 public:
  virtual ~ShipLog() = default;

  // The shipment in flight if there is one (resumed = true), otherwise the next up to
  // max_events events after the cursor, oldest month first, recorded as in flight under
  // new_batch_id. nullopt when everything is shipped.
  virtual Result<std::optional<Shipment>> next_shipment(std::size_t max_events,
                                                        std::string_view new_batch_id) = 0;

  // The backend has the shipment: the cursor moves past it and nothing is in flight.
  virtual Status confirm_shipment(const Shipment& shipment) = 0;

  // The shipment that would follow `in_flight` once it is confirmed, up to max_events, read but
  // not recorded: the shipper reads it while `in_flight` is on the wire. nullopt when nothing
  // follows, or when this log cannot read ahead (then the shipper reads after confirming).
  virtual Result<std::optional<Shipment>> read_ahead(const Shipment& /*in_flight*/,
                                                     std::size_t /*max_events*/,
                                                     std::string_view /*new_batch_id*/) {
    return std::optional<Shipment>();
  }

  // confirm_shipment(done), and `next` (from read_ahead(done, ...)) recorded as in flight, in
  // one write. Only called by a log whose read_ahead() returned `next`.
  virtual Status confirm_and_begin(const Shipment& done, const Shipment& /*next*/) {
    return fail(Error::internal("this log does not read ahead (batch " + done.batch_id + ")"));
  }

  virtual Result<Backlog> backlog() = 0;

  // False while another process ships from the same log (PostgreSQL: another node does).
  virtual bool ships_here() const { return true; }
};

}  // namespace meter::store

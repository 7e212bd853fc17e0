#pragma once

#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/time.h"

namespace meter {

// One billable thing that happened to a tenant. `id` is the idempotency key: the same
// (tenant_id, id) is counted once. `metadata` is the JSON text of an object ("{}" when none).
//
// A retraction (docs/corrections.md) withdraws the event whose id `cancels` names: it carries
// that event's tenant, type and timestamp, the quantity negated, and the id retraction_id(that
// id), so that each event is withdrawn at most once. Sums and counts add it like any event (its
// count is -1); aggregations that read single rows skip both it and the event it cancels.
struct Event {
  std::string id;
  std::string tenant_id;
  std::string event_type;
  Decimal quantity;
  Timestamp timestamp;
  Timestamp received_at;
  std::string metadata = "{}";
  std::string cancels;  // empty: a usage event
  // The id was made by meterd for an event sent without one (new_event_id: 74 random bits and
  // the millisecond), so it cannot be stored yet: the dedupe index records it without a lookup.
  bool id_generated = false;

  bool is_retraction() const { return !cancels.empty(); }
  // What the event counts for in a rollup's event count: 1, or -1 for a retraction.
  int sign() const { return cancels.empty() ? 1 : -1; }
};

// The id of the retraction of event `id`. '~' is not allowed in client ids
// (core/identifier.h), so it never collides with an event's id.
inline std::string retraction_id(std::string_view id) { return "~" + std::string(id); }

// The retraction of `e`, received at `now`, with `metadata` saying who made it and why.
inline Event retraction_of(const Event& e, Timestamp now, std::string metadata) {
  return {retraction_id(e.id), e.tenant_id, e.event_type,        Decimal::from_units(-e.quantity.units()),
          e.timestamp,         now,         std::move(metadata), e.id};
}

}  // namespace meter

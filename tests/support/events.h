#pragma once

#include <string>
#include <string_view>

#include "core/event.h"

namespace meter::testing {

// An event as the ingest writer receives it: validated, with received_at = timestamp.
inline Event make_event(std::string tenant, std::string id, std::string type, std::string_view quantity,
                        Timestamp at) {
  Event e;
  e.id = std::move(id);
  e.tenant_id = std::move(tenant);
  e.event_type = std::move(type);
  e.quantity = *Decimal::parse(quantity);
  e.timestamp = at;
  e.received_at = at;
  return e;
}

}  // namespace meter::testing

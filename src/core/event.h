#pragma once

#include <string>

#include "core/decimal.h"
#include "core/time.h"

namespace meter {

// One billable thing that happened to a tenant. `id` is the idempotency key: the same
// (tenant_id, id) is counted once. `metadata` is the JSON text of an object ("{}" when none).
struct Event {
  std::string id;
  std::string tenant_id;
  std::string event_type;
  Decimal quantity;
  Timestamp timestamp;
  Timestamp received_at;
  std::string metadata = "{}";
};

}  // namespace meter

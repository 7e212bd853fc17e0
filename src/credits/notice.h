#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace meter::credits {

// A notification about a tenant's credit for its webhook (docs/credits.md): credits.low,
// credits.depleted, credits.topup_requested, credits.expiring_soon. Recorded once: the store
// keeps (tenant, type, ref) unique, and a crossing's notice is written in the transaction of
// the burns that crossed.
struct Notice {
  std::string id;  // ntc_...
  std::string tenant_id;
  std::string type;
  std::string ref;   // what makes it the same notice again (a lot and a horizon); else its id
  Timestamp at;      // when it fired
  std::string body;  // the webhook's JSON body
};

// A notice as stored, with how its webhook delivery went.
struct NoticeRecord {
  Notice notice;
  std::string delivery;  // pending, delivered, failed, no webhook
  int attempts = 0;
};

// A notice with its body: {"id", "type", "tenant_id", "fired_at", then `fields` as strings}.
Notice make_notice(std::string tenant, std::string type, Timestamp at,
                   const std::vector<std::pair<std::string_view, std::string>>& fields);

}  // namespace meter::credits

#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "quota/quota_book.h"

namespace meter::quota {

// Where a tenant stands against one limit in the current period.
struct QuotaStatus {
  Meter meter;
  Period period;
  Timestamp period_start;
  Timestamp resets_at;
  Decimal used;
  std::optional<Decimal> limit;
  std::optional<Decimal> remaining;  // 0 when over
  bool exceeded = false;             // used > limit
};

// Every meter's day and month for a tenant, from one lookup in the book.
std::vector<QuotaStatus> quota_status(const QuotaBook& book, std::string_view tenant, Timestamp now);
// Sets a status's usage (e.g. read from a store several nodes share) and what follows from it.
void set_used(QuotaStatus& status, Decimal used);

// The counter key an event counts into for a period, in the tenant's zone.
CounterKey counter_key(std::string_view tenant, Meter meter, const Zone& zone, Period period, Timestamp t);
// The same, borrowing the tenant: for lookups.
CounterKeyView counter_key_view(std::string_view tenant, Meter meter, const Zone& zone, Period period,
                                Timestamp t);

}  // namespace meter::quota

#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"

namespace meter::quota {

// A tenant's daily limits, in the seed's terms. An empty limit means unlimited.
struct QuotaLimits {
  std::optional<Decimal> queries_per_day;
  std::optional<Decimal> tokens_per_day;  // input + output tokens
  std::optional<Decimal> storage_gb;
};

// One limited quantity and where the tenant stands against it.
struct QuotaStatus {
  std::string meter;  // "queries", "tokens", "storage_gb"
  Decimal used;
  std::optional<Decimal> limit;
  std::optional<Decimal> remaining;  // 0 when over
  bool exceeded = false;
};

// Which event types count towards which quota meter.
const std::vector<std::pair<std::string, std::vector<std::string>>>& quota_meters();

// Compares a day's usage (event type -> quantity) with the limits; fails on overflow.
Result<std::vector<QuotaStatus>> evaluate(const QuotaLimits& limits, const std::map<std::string, Decimal>& usage);

}  // namespace meter::quota

#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/error.h"
#include "quota/zone.h"

namespace meter::quota {

// What quotas limit. queries counts `query` events; tokens counts input_tokens, output_tokens
// and tokens; storage_gb is a gauge: the largest value reported in the period.
enum class Meter { kQueries, kTokens, kStorageGb };
inline constexpr std::array<Meter, 3> kMeters = {Meter::kQueries, Meter::kTokens, Meter::kStorageGb};

std::optional<Meter> meter_of(std::string_view event_type);
// The event types a meter counts (meter_of's inverse).
std::span<const std::string_view> event_types_of(Meter meter);
std::string_view meter_name(Meter meter);
inline bool is_gauge(Meter meter) { return meter == Meter::kStorageGb; }

enum class Enforcement {
  kSoft,  // accept, and report the overage
  kHard,  // refuse events that would go over (429 until the period resets)
};
std::optional<Enforcement> parse_enforcement(std::string_view text);
std::string_view enforcement_name(Enforcement e);

// An empty limit means unlimited.
struct MeterLimits {
  std::optional<Decimal> per_day;
  std::optional<Decimal> per_month;

  const std::optional<Decimal>& of(Period p) const { return p == Period::kDay ? per_day : per_month; }
};

// A tenant's quota settings: limits per meter and period, where its days begin, how it is held.
struct TenantQuota {
  std::string time_zone = "UTC";
  Enforcement enforcement = Enforcement::kSoft;
  std::array<MeterLimits, kMeters.size()> limits;

  MeterLimits& operator[](Meter m) { return limits[static_cast<std::size_t>(m)]; }
  const MeterLimits& operator[](Meter m) const { return limits[static_cast<std::size_t>(m)]; }
};

}  // namespace meter::quota

#pragma once

#include <optional>
#include <string_view>

namespace meter {

// How a meter turns a period's events into one quantity.
enum class Aggregation {
  kSum,          // the quantities added up (the default; what rollups keep)
  kCount,        // the number of events
  kMax,          // the largest quantity (gauges such as storage_gb)
  kMin,          // the smallest quantity
  kLatest,       // the quantity of the last event by timestamp
  kUniqueCount,  // how many distinct values a metadata field took (e.g. active users)
};

inline std::optional<Aggregation> parse_aggregation(std::string_view name) {
  if (name == "sum") return Aggregation::kSum;
  if (name == "count") return Aggregation::kCount;
  if (name == "max") return Aggregation::kMax;
  if (name == "min") return Aggregation::kMin;
  if (name == "latest") return Aggregation::kLatest;
  if (name == "unique_count") return Aggregation::kUniqueCount;
  return std::nullopt;
}

}  // namespace meter

#pragma once

#include <span>
#include <string_view>

#include "core/time.h"

namespace meter::store {

// Some event types' stored usage over [from, to) (both on a quarter hour): the sum of their
// quantities, or for a gauge (peak) the largest one.
struct UsageWindow {
  std::span<const std::string_view> types;
  Timestamp from;
  Timestamp to;
  bool peak = false;
};

}  // namespace meter::store

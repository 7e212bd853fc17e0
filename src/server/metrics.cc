#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace meter::server {

void RejectCounts::add(std::string_view reason, std::uint64_t n) {
  if (reason.empty()) reason = "body";
  auto it = std::find(kReasons.begin(), kReasons.end(), reason);
  if (it == kReasons.end()) it = std::find(kReasons.begin(), kReasons.end(), "unknown_field");
  counts_[static_cast<std::size_t>(it - kReasons.begin())].fetch_add(n, std::memory_order_relaxed);
}

void RejectCounts::render(std::string& out) const {
  for (std::size_t i = 0; i < kReasons.size(); ++i) {
    std::uint64_t n = counts_[i].load(std::memory_order_relaxed);
    if (n > 0)
      fmt::format_to(std::back_inserter(out), "meterd_events_rejected_total{{reason=\"{}\"}} {}\n",
                     kReasons[i], n);
  }
}

}  // namespace meter::server

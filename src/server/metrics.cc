#include "server/metrics.h"

#include <fmt/format.h>

namespace meter::server {

void RejectCounts::add(std::string_view reason, std::uint64_t n) {
  if (reason.empty()) reason = "body";
  std::lock_guard lock(mutex_);
  auto it = counts_.find(reason);
  if (it == counts_.end()) it = counts_.emplace(std::string(reason), 0).first;
  it->second += n;
}

void RejectCounts::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [reason, n] : counts_) {
    fmt::format_to(std::back_inserter(out), "meterd_events_rejected_total{{reason=\"{}\"}} {}\n", reason, n);
  }
}

}  // namespace meter::server

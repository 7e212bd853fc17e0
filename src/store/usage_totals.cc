#include <algorithm>
#include <map>
#include <tuple>

#include "store/usage_store.h"

namespace meter::store {

Status UsageRows::add(Timestamp bucket_start, std::string event_type, Decimal quantity, std::int64_t events) {
  Timestamp start = floor_to(window_, bucket_start);
  // Rows arrive in time order, so the days of one month are contiguous.
  if (window_ == Window::kMonth) {
    auto same = [&](const UsageRow& r) { return r.bucket_start == start && r.event_type == event_type; };
    if (auto it = std::find_if(rows_.rbegin(), rows_.rend(), same); it != rows_.rend()) {
      auto sum = it->quantity.checked_add(quantity);
      if (!sum) return fail(Error::invalid("quantity", "usage sum overflows"));
      it->quantity = *sum;
      it->events += events;
      return {};
    }
  }
  rows_.push_back({start, std::move(event_type), quantity, events});
  return {};
}

std::vector<UsageRow> UsageRows::finish() && {
  if (window_ == Window::kMonth) {
    std::stable_sort(rows_.begin(), rows_.end(), [](const UsageRow& a, const UsageRow& b) {
      return std::tie(a.bucket_start, a.event_type) < std::tie(b.bucket_start, b.event_type);
    });
  }
  return std::move(rows_);
}

Result<std::vector<UsageRow>> rebucket(const std::vector<UsageRow>& rows,
                                       const std::function<Timestamp(Timestamp)>& bucket_of) {
  std::map<std::pair<Timestamp, std::string>, UsageRow> merged;
  for (const UsageRow& row : rows) {
    Timestamp bucket = bucket_of(row.bucket_start);
    auto [it, inserted] = merged.try_emplace({bucket, row.event_type}, row);
    if (inserted) {
      it->second.bucket_start = bucket;
      continue;
    }
    auto sum = it->second.quantity.checked_add(row.quantity);
    if (!sum) return fail(Error::invalid("quantity", "the usage of " + row.event_type + " overflows"));
    it->second.quantity = *sum;
    it->second.events += row.events;
  }
  std::vector<UsageRow> out;
  out.reserve(merged.size());
  for (auto& [key, row] : merged) out.push_back(std::move(row));
  return out;
}

Result<std::vector<UsageRow>> totals_by_type(const std::vector<UsageRow>& rows) {
  return rebucket(rows, [](Timestamp) { return Timestamp{}; });  // one bucket: per event type
}

}  // namespace meter::store

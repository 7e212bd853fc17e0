#include <map>

#include "store/store.h"

namespace meter::store {

Result<std::vector<UsageRow>> totals_by_type(const std::vector<UsageRow>& rows) {
  std::map<std::string, UsageRow> totals;
  for (const UsageRow& row : rows) {
    auto [it, inserted] = totals.try_emplace(row.event_type, row);
    if (inserted) continue;
    auto sum = it->second.quantity.checked_add(row.quantity);
    if (!sum) return fail(Error::invalid("quantity", "the usage of " + row.event_type + " overflows"));
    it->second.quantity = *sum;
    it->second.events += row.events;
  }
  std::vector<UsageRow> out;
  out.reserve(totals.size());
  for (auto& [type, total] : totals) out.push_back(std::move(total));
  return out;
}

}  // namespace meter::store

#include "billing/gauge.h"

#include <map>

namespace meter::billing {

Result<Decimal> average_daily_max(const std::vector<std::pair<Timestamp, Decimal>>& readings,
                                  const quota::Zone& zone, Timestamp from, Timestamp to) {
  std::map<Timestamp, Decimal> daily_max;  // local day start -> max
  for (const auto& [at, value] : readings) {
    if (at < from || at >= to) continue;
    Timestamp day = zone.period_start(quota::Period::kDay, at);
    auto [it, inserted] = daily_max.try_emplace(day, value);
    if (!inserted && value > it->second) it->second = value;
  }
  Decimal total;
  Int128 days = 0;
  Decimal carried;
  for (Timestamp day = zone.period_start(quota::Period::kDay, from); day < to;
       day = zone.period_end(quota::Period::kDay, day)) {
    if (auto it = daily_max.find(day); it != daily_max.end()) carried = it->second;
    auto sum = total.checked_add(carried);
    if (!sum) return fail(Error::invalid("quantity", "the gauge's daily maxima overflow"));
    total = *sum;
    ++days;
  }
  if (days == 0) return Decimal();
  Int128 quotient = total.units() / days;
  Int128 remainder = total.units() % days;
  if (remainder * 2 >= days) ++quotient;  // half up (values are never negative)
  return Decimal::from_units(quotient);
}

}  // namespace meter::billing

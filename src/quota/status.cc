#include "quota/status.h"

namespace meter::quota {

CounterKey counter_key(std::string_view tenant, Meter meter, const Zone& zone, Period period, Timestamp t) {
  return {std::string(tenant), meter, period, to_unix_ms(zone.period_start(period, t))};
}

CounterKeyView counter_key_view(std::string_view tenant, Meter meter, const Zone& zone, Period period,
                                Timestamp t) {
  return {tenant, meter, period, to_unix_ms(zone.period_start(period, t))};
}

std::vector<QuotaStatus> quota_status(const QuotaBook& book, std::string_view tenant, Timestamp now) {
  QuotaBook::Tenant found = book.find(tenant);
  const QuotaBook::Entry& entry = *found.settings;
  std::vector<QuotaStatus> out;
  for (Period period : {Period::kDay, Period::kMonth}) {
    for (Meter meter : kMeters) {
      QuotaStatus s{
          meter, period, entry.zone.period_start(period, now), entry.zone.period_end(period, now), {}, {},
          {},    false};
      s.limit = entry.quota[meter].of(period);
      set_used(s, book.used(found, counter_key_view(tenant, meter, entry.zone, period, now)));
      out.push_back(std::move(s));
    }
  }
  return out;
}

void set_used(QuotaStatus& s, Decimal used) {
  s.used = used;
  if (!s.limit) return;
  s.exceeded = s.used > *s.limit;
  s.remaining = s.exceeded ? Decimal() : *s.limit->checked_sub(s.used);
}

}  // namespace meter::quota

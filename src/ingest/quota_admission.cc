#include "ingest/quota_admission.h"

#include <fmt/format.h>

#include "quota/status.h"

namespace meter::ingest {

using quota::Period;

std::optional<Error> QuotaAdmission::admit(const Event& e) {
  auto meter = quota::meter_of(e.event_type);
  if (!meter) return std::nullopt;
  auto entry = book_.get(e.tenant_id);
  const quota::MeterLimits& limits = entry->quota[*meter];
  quota::LiveCounters::Key keys[2] = {quota::counter_key(e.tenant_id, *meter, entry->zone, Period::kDay, e.timestamp),
                                      quota::counter_key(e.tenant_id, *meter, entry->zone, Period::kMonth, e.timestamp)};
  if (entry->quota.enforcement == quota::Enforcement::kHard) {
    for (int i = 0; i < 2; ++i) {
      Period period = i == 0 ? Period::kDay : Period::kMonth;
      const auto& limit = limits.of(period);
      if (!limit) continue;
      Decimal used = counters_.get(keys[i]);
      auto next = quota::is_gauge(*meter) ? std::optional<Decimal>(std::max(used, e.quantity)) : used.checked_add(e.quantity);
      if (next && *next <= *limit) continue;
      Timestamp resets = entry->zone.period_end(period, e.timestamp);
      auto wait = std::chrono::duration_cast<std::chrono::seconds>(resets - e.received_at).count();
      std::string name = fmt::format("{}_per_{}", quota::meter_name(*meter), period == Period::kDay ? "day" : "month");
      return Error{ErrorCode::kRateLimited,
                   fmt::format("tenant {} is at its {} limit of {} (used {}); the period resets at {}", e.tenant_id,
                               name, limit->to_string(), used.to_string(), format_rfc3339(resets)),
                   name, std::max<std::int64_t>(1, wait)};
    }
  }
  for (int i = 0; i < 2; ++i) {
    auto previous = counters_.add(keys[i], e.quantity);
    if (!previous) return previous.error();
    undo_.emplace_back(keys[i], *previous);
    Period period = i == 0 ? Period::kDay : Period::kMonth;
    const auto& limit = limits.of(period);
    if (alerts_ == nullptr || !limit) continue;
    Decimal now_used = counters_.get(keys[i]);
    for (int t : quota::crossed_thresholds(*previous, now_used, *limit, thresholds_)) {
      pending_.push_back({e.tenant_id, *meter, period, from_unix_ms(keys[i].period_start_ms), t, now_used, *limit,
                          e.received_at});
    }
  }
  return std::nullopt;
}

void QuotaAdmission::rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) counters_.set(it->first, it->second);
  undo_.clear();
  pending_.clear();
}

void QuotaAdmission::settle() {
  undo_.clear();
  for (auto& alert : pending_) alerts_->fire(std::move(alert));
  pending_.clear();
}

void QuotaAdmission::recount(std::string_view tenant, std::string_view event_type, Decimal quantity,
                             Timestamp timestamp) {
  auto meter = quota::meter_of(event_type);
  if (!meter) return;
  auto entry = book_.get(tenant);
  for (Period period : {Period::kDay, Period::kMonth}) {
    (void)counters_.add(quota::counter_key(tenant, *meter, entry->zone, period, timestamp), quantity);
  }
}

}  // namespace meter::ingest

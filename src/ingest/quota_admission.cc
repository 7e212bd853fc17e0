#include "ingest/quota_admission.h"

#include <fmt/format.h>

#include <algorithm>

#include "quota/status.h"

namespace meter::ingest {

using quota::Period;

const quota::QuotaBook::Tenant& QuotaAdmission::tenant_for(std::string_view tenant) {
  // Batches are mostly one tenant: skip the map for a repeat. Settings changed meanwhile are
  // picked up at the next group (settle() forgets the cache), and so is a usage record created
  // by the first count (until then the counts are read through the book).
  if (last_found_.settings != nullptr && last_found_.usage != nullptr && tenant == last_tenant_)
    return last_found_;
  last_tenant_ = std::string(tenant);
  last_found_ = book_.find(tenant);
  return last_found_;
}

void QuotaAdmission::add_counted(const quota::CounterKey& key, Decimal quantity,
                                 const quota::MeterLimits& limits, Timestamp at, bool undoable) {
  auto change = book_.add(key, quantity);
  if (!change) return;  // overflow: the counter keeps its value
  if (undoable) undo_.emplace_back(key, change->before);
  const auto& limit = limits.of(key.period);
  if (alerts_ == nullptr || !limit) return;
  for (int t : quota::crossed_thresholds(change->before, change->after, *limit, thresholds_)) {
    pending_alerts_.push_back(
        {key.tenant, key.meter, key.period, from_unix_ms(key.period_start_ms), t, change->after, *limit, at});
  }
}

std::optional<Error> QuotaAdmission::admit(const Event& e) {
  auto meter = quota::meter_of(e.event_type);
  if (!meter) return std::nullopt;
  const quota::QuotaBook::Tenant& found = tenant_for(e.tenant_id);
  const quota::QuotaBook::Entry* entry = found.settings;
  const quota::MeterLimits& limits = entry->quota[*meter];
  quota::CounterKeyView views[2] = {
      quota::counter_key_view(e.tenant_id, *meter, entry->zone, Period::kDay, e.timestamp),
      quota::counter_key_view(e.tenant_id, *meter, entry->zone, Period::kMonth, e.timestamp)};
  auto owned = [](const quota::CounterKeyView& v) {
    return quota::CounterKey{std::string(v.tenant), v.meter, v.period, v.period_start_ms};
  };
  if (e.is_retraction()) {
    // Always admitted, in either mode: it frees what its event used at once (undone if the group
    // fails). A gauge's largest reading is read again from the stored events at the next start.
    if (quota::is_gauge(*meter)) return std::nullopt;
    for (const auto& view : views) add_counted(owned(view), e.quantity, limits, e.received_at, true);
    return std::nullopt;
  }
  if (entry->quota.enforcement == quota::Enforcement::kSoft) {
    for (const auto& view : views) {
      // Only the last few sums are searched (batches repeat keys); a key seen earlier gets a
      // second sum, which settle() adds just the same. This keeps a group linear in its size.
      // The key is copied only for a new sum.
      auto same = [&](const SoftSum& s) { return quota::CounterKeyView(s.key) == view; };
      auto last = soft_.rbegin() + std::min<std::ptrdiff_t>(8, static_cast<std::ptrdiff_t>(soft_.size()));
      auto it = std::find_if(soft_.rbegin(), last, same);
      if (it == last) {
        soft_.push_back({owned(view), e.quantity, limits, e.received_at});
        continue;
      }
      auto sum = quota::is_gauge(*meter) ? std::optional<Decimal>(std::max(it->quantity, e.quantity))
                                         : it->quantity.checked_add(e.quantity);
      if (sum) it->quantity = *sum;
    }
    return std::nullopt;
  }
  for (int i = 0; i < 2; ++i) {
    Period period = i == 0 ? Period::kDay : Period::kMonth;
    const auto& limit = limits.of(period);
    if (!limit) continue;
    Decimal used = book_.used(found, views[i]);
    auto next = quota::is_gauge(*meter) ? std::optional<Decimal>(std::max(used, e.quantity))
                                        : used.checked_add(e.quantity);
    if (next && *next <= *limit) continue;
    Timestamp resets = entry->zone.period_end(period, e.timestamp);
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(resets - e.received_at).count();
    std::string name =
        fmt::format("{}_per_{}", quota::meter_name(*meter), period == Period::kDay ? "day" : "month");
    std::string message =
        e.quantity > *limit
            ? fmt::format(
                  "this event's quantity {} alone exceeds tenant {}'s {} limit of {}; it can never be "
                  "accepted "
                  "in this period (used {}; the period resets at {})",
                  e.quantity.to_string(), e.tenant_id, name, limit->to_string(), used.to_string(),
                  format_rfc3339(resets))
            : fmt::format(
                  "tenant {} would pass its {} limit of {} (used {}, this event {}); the period resets at {}",
                  e.tenant_id, name, limit->to_string(), used.to_string(), e.quantity.to_string(),
                  format_rfc3339(resets));
    return Error{ErrorCode::kRateLimited, std::move(message), name, std::max<std::int64_t>(1, wait)};
  }
  for (const auto& view : views) add_counted(owned(view), e.quantity, limits, e.received_at, true);
  return std::nullopt;
}

Status QuotaAdmission::prepare(std::span<const Event* const> group) {
  if (shared_ == nullptr) return {};
  // The counters of the group's limited meters: hard-mode ones every group (their tenants
  // locked), soft-mode ones at most every kSoftRefresh per tenant (for alerts only).
  struct Key {
    quota::CounterKey key;
    bool hard;
    Timestamp at;  // the first event's arrival: when an alert found here says it fired
  };
  std::vector<Key> keys;
  std::vector<std::string> tenants;
  auto now = std::chrono::steady_clock::now();
  if (soft_refreshed_.size() > 100'000) soft_refreshed_.clear();  // bounded; a refresh comes early
  for (const Event* e : group) {
    auto meter = quota::meter_of(e->event_type);
    if (!meter) continue;
    const quota::QuotaBook::Entry* entry = book_.get(e->tenant_id);
    bool hard = entry->quota.enforcement == quota::Enforcement::kHard;
    if (!hard) {
      if (alerts_ == nullptr) continue;
      auto [it, fresh] = soft_refreshed_.try_emplace(e->tenant_id, now);
      if (!fresh && now - it->second < kSoftRefresh) continue;
      it->second = now;  // this group refreshes the tenant (the next one within the interval does not)
    }
    for (Period period : {Period::kDay, Period::kMonth}) {
      if (!entry->quota[*meter].of(period)) continue;
      auto view = quota::counter_key_view(e->tenant_id, *meter, entry->zone, period, e->timestamp);
      if (std::find_if(keys.begin(), keys.end(),
                       [&](const Key& k) { return quota::CounterKeyView(k.key) == view; }) != keys.end()) {
        continue;
      }
      keys.push_back({{e->tenant_id, *meter, period, view.period_start_ms}, hard, e->received_at});
      if (hard) tenants.push_back(e->tenant_id);
    }
  }
  if (keys.empty()) return {};
  std::sort(tenants.begin(), tenants.end());
  tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  if (auto s = shared_->lock_tenants(tenants); !s) return s;
  for (const Key& k : keys) {
    const quota::QuotaBook::Entry* entry = book_.get(k.key.tenant);
    Timestamp start = from_unix_ms(k.key.period_start_ms);
    // A gauge's counter is its largest reading, a summed meter's the sum.
    auto stored = shared_->locked_usage(
        k.key.tenant, {quota::event_types_of(k.key.meter), start, entry->zone.period_end(k.key.period, start),
                       quota::is_gauge(k.key.meter)});
    if (!stored) return fail(stored.error());
    if (!*stored) continue;
    Decimal before = book_.used(k.key);
    book_.set_used(k.key, **stored);
    // Thresholds other nodes' events crossed: fired here, once the group commits (the alerts
    // table keeps one per crossing, whichever node records it first).
    const auto& limit = entry->quota[k.key.meter].of(k.key.period);
    if (alerts_ == nullptr || !limit || **stored <= before) continue;
    for (int t : quota::crossed_thresholds(before, **stored, *limit, thresholds_)) {
      pending_alerts_.push_back({k.key.tenant, k.key.meter, k.key.period, start, t, **stored, *limit, k.at});
    }
  }
  last_found_ = {};  // counters may have been created: look the tenant up afresh
  return {};
}

void QuotaAdmission::rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) book_.set_used(it->first, it->second);
  undo_.clear();
  soft_.clear();
  pending_alerts_.clear();
  last_found_ = {};
}

void QuotaAdmission::settle() {
  for (const SoftSum& s : soft_) add_counted(s.key, s.quantity, s.limits, s.at, false);
  soft_.clear();
  undo_.clear();
  last_found_ = {};
  if (alerts_ != nullptr) {
    for (auto& alert : pending_alerts_) alerts_->fire(std::move(alert));
  }
  pending_alerts_.clear();
}

void QuotaAdmission::uncount(const Event& e) {
  recount(e.tenant_id, e.event_type, Decimal::from_units(-e.quantity.units()), e.timestamp);
}

void QuotaAdmission::recount(std::string_view tenant, std::string_view event_type, Decimal quantity,
                             Timestamp timestamp) {
  auto meter = quota::meter_of(event_type);
  if (!meter) return;
  auto entry = book_.get(tenant);
  for (Period period : {Period::kDay, Period::kMonth}) {
    (void)book_.add(quota::counter_key_view(tenant, *meter, entry->zone, period, timestamp), quantity);
  }
}

}  // namespace meter::ingest

#include "quota/quota_book.h"

#include <absl/container/inlined_vector.h>

#include <algorithm>

namespace meter::quota {
namespace {

// Debian's abseil has a string_view of its own: the map's hash takes that one.
absl::string_view key_of(std::string_view tenant) { return {tenant.data(), tenant.size()}; }

}  // namespace

// A tenant's counters: the current day and month of each meter fit inline (six), so a check
// reads them from the record it found; older periods (late events) spill to the heap.
class QuotaBook::Usage {
 public:
  explicit Usage(std::int64_t keep_ms) : keep_ms_(keep_ms) {}

  Decimal get(Meter meter, Period period, std::int64_t start_ms) const {
    MutexLock lock(mutex_);
    const Counter* c = find(meter, period, start_ms);
    return c == nullptr ? Decimal() : c->value;
  }

  Result<Change> add(Meter meter, Period period, std::int64_t start_ms, Decimal quantity) {
    MutexLock lock(mutex_);
    Counter& c = find_or_add(meter, period, start_ms);
    Change change{c.value, c.value};
    if (is_gauge(meter)) {
      change.after = std::max(c.value, quantity);
    } else {
      auto sum = c.value.checked_add(quantity);
      if (!sum) return fail(Error::invalid("quantity", "usage counter overflows"));
      change.after = *sum;
    }
    c.value = change.after;
    return change;
  }

  void set(Meter meter, Period period, std::int64_t start_ms, Decimal value) {
    MutexLock lock(mutex_);
    find_or_add(meter, period, start_ms).value = value;
  }

 private:
  struct Counter {
    std::int64_t start_ms;
    Meter meter;
    Period period;
    Decimal value;
  };

  const Counter* find(Meter meter, Period period, std::int64_t start_ms) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    for (const Counter& c : counters_) {
      if (c.start_ms == start_ms && c.meter == meter && c.period == period) return &c;
    }
    return nullptr;
  }

  Counter& find_or_add(Meter meter, Period period, std::int64_t start_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    // find() on a counter of this (non-const) object: casting its const away is safe.
    if (const Counter* c = find(meter, period, start_ms)) return const_cast<Counter&>(*c);
    std::int64_t cutoff = start_ms - keep_ms_;
    counters_.erase(std::remove_if(counters_.begin(), counters_.end(),
                                   [cutoff](const Counter& c) { return c.start_ms < cutoff; }),
                    counters_.end());
    return counters_.emplace_back(Counter{start_ms, meter, period, Decimal()});
  }

  mutable Mutex mutex_;
  absl::InlinedVector<Counter, 6> counters_ ABSL_GUARDED_BY(mutex_);
  std::int64_t keep_ms_;
};

QuotaBook::QuotaBook(TenantQuota defaults, std::chrono::days keep)
    : keep_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(keep).count()) {
  auto zone = Zone::find(defaults.time_zone);
  defaults_ = std::make_unique<const Entry>(Entry{zone ? *zone : Zone::utc(), false, defaults});
}

QuotaBook::~QuotaBook() = default;

QuotaBook::Tenant QuotaBook::find(std::string_view tenant) const {
  ReaderLock lock(mutex_);
  auto it = tenants_.find(key_of(tenant));
  if (it == tenants_.end()) return {defaults_.get(), nullptr};
  const Slot& slot = it->second;
  return {slot.settings != nullptr ? slot.settings : defaults_.get(), slot.usage};
}

Status QuotaBook::set(const std::string& tenant, const TenantQuota& quota) {
  auto zone = Zone::find(quota.time_zone);
  if (!zone) return fail(zone.error());
  auto entry = std::make_unique<const Entry>(Entry{*zone, true, quota});
  WriterLock lock(mutex_);
  tenants_[tenant].settings = entry.get();
  entries_.push_back(std::move(entry));
  return {};
}

QuotaBook::Usage& QuotaBook::usage_of(std::string_view tenant) {
  {
    ReaderLock lock(mutex_);
    auto it = tenants_.find(key_of(tenant));
    if (it != tenants_.end() && it->second.usage != nullptr) return *it->second.usage;
  }
  WriterLock lock(mutex_);
  Slot& slot = tenants_[key_of(tenant)];
  if (slot.usage == nullptr) {
    slot.usage = usages_.emplace_back(std::make_unique<Usage>(keep_ms_)).get();
  }
  return *slot.usage;
}

Decimal QuotaBook::used(const Tenant& tenant, CounterKeyView key) const {
  if (tenant.usage == nullptr) return Decimal();
  return tenant.usage->get(key.meter, key.period, key.period_start_ms);
}

Result<QuotaBook::Change> QuotaBook::add(CounterKeyView key, Decimal quantity) {
  return usage_of(key.tenant).add(key.meter, key.period, key.period_start_ms, quantity);
}

void QuotaBook::set_used(CounterKeyView key, Decimal value) {
  usage_of(key.tenant).set(key.meter, key.period, key.period_start_ms, value);
}

}  // namespace meter::quota

#pragma once

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/sync.h"
#include "quota/limits.h"
#include "quota/zone.h"

namespace meter::quota {

// One live usage counter: a tenant's meter over the period that begins at period_start_ms (the
// period's first instant in the tenant's zone).
struct CounterKey {
  std::string tenant;
  Meter meter;
  Period period;
  std::int64_t period_start_ms;
  friend bool operator==(const CounterKey&, const CounterKey&) = default;
};
// The same key without owning the tenant: a lookup needs no allocation.
struct CounterKeyView {
  std::string_view tenant;
  Meter meter;
  Period period;
  std::int64_t period_start_ms;
  CounterKeyView(std::string_view t, Meter m, Period p, std::int64_t start)
      : tenant(t), meter(m), period(p), period_start_ms(start) {}
  CounterKeyView(const CounterKey& k)
      : CounterKeyView(k.tenant, k.meter, k.period, k.period_start_ms) {}  // NOLINT: implicit on purpose
  friend bool operator==(const CounterKeyView&, const CounterKeyView&) = default;
};

// Every tenant's quota settings and live usage, in memory, for the ingest writer and the quota
// endpoints. A tenant without settings of its own gets the defaults (DEFAULT_QUOTA_*, soft,
// UTC). Usage is exact: sums for counted meters, maxima for gauges, per period.
//
// One hash lookup finds both a tenant's settings and its usage (find()), so a quota check costs
// that lookup and two reads that do not depend on each other. Thread-safe: the tenant map is
// under a shared lock, each tenant's usage under a lock of its own. Settings entries and usage
// records are never freed while the book lives, so lookups hand out plain pointers.
class QuotaBook {
 public:
  struct Entry {
    Zone zone;            // first: a check reads the zone and the first meter's limits, two adjacent lines
    bool custom = false;  // false: the defaults
    TenantQuota quota;
  };
  class Usage;  // a tenant's counters
  struct Tenant {
    const Entry* settings = nullptr;  // never null from find()
    const Usage* usage = nullptr;     // null while the tenant has counted nothing
  };

  // Counters of periods that began more than `keep` before the newest one a tenant counts into
  // are dropped: events that old are refused by ingestion (the late window).
  explicit QuotaBook(TenantQuota defaults, std::chrono::days keep = std::chrono::days(70));
  ~QuotaBook();

  Tenant find(std::string_view tenant) const;
  // A tenant's settings; never null, valid as long as the book.
  const Entry* get(std::string_view tenant) const { return find(tenant).settings; }
  // What a tenant without settings of its own gets.
  const TenantQuota& defaults() const { return defaults_->quota; }
  // Replaces a tenant's settings; fails (changing nothing) on an unknown time zone.
  Status set(const std::string& tenant, const TenantQuota& quota);

  Decimal used(CounterKeyView key) const { return used(find(key.tenant), key); }
  // The same for a tenant already found (key.tenant is not looked at).
  Decimal used(const Tenant& tenant, CounterKeyView key) const;
  // A counter's value before and after an add: `before` for undo, `after` for threshold alerts.
  struct Change {
    Decimal before;
    Decimal after;
  };
  // Adds (or, for gauges, raises to) `quantity`. Fails on overflow and then changes nothing.
  Result<Change> add(CounterKeyView key, Decimal quantity);
  void set_used(CounterKeyView key, Decimal value);

 private:
  struct Slot {
    const Entry* settings = nullptr;  // null: the defaults
    Usage* usage = nullptr;
  };
  Usage& usage_of(std::string_view tenant);  // created on first use

  mutable SharedMutex mutex_;
  absl::flat_hash_map<std::string, Slot> tenants_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::unique_ptr<const Entry>> entries_ ABSL_GUARDED_BY(mutex_);  // owns every entry
  std::vector<std::unique_ptr<Usage>> usages_ ABSL_GUARDED_BY(mutex_);         // owns every record
  std::unique_ptr<const Entry> defaults_;
  std::int64_t keep_ms_;
};

}  // namespace meter::quota

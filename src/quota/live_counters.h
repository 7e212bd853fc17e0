#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "core/decimal.h"
#include "quota/limits.h"

namespace meter::quota {

// Exact usage per (tenant, meter, period start), kept in memory and updated as events are
// admitted, so a quota is known the moment an event is acknowledged. Sums for counted meters,
// maxima for gauges. Thread-safe: sharded by tenant, each shard under its own mutex.
class LiveCounters {
 public:
  struct Key {
    std::string tenant;
    Meter meter;
    Period period;
    std::int64_t period_start_ms;  // the period's first instant, in the tenant's zone
    friend bool operator==(const Key&, const Key&) = default;
  };
  // The same key without owning the tenant: a lookup needs no allocation.
  struct KeyView {
    std::string_view tenant;
    Meter meter;
    Period period;
    std::int64_t period_start_ms;
    KeyView(std::string_view t, Meter m, Period p, std::int64_t start)
        : tenant(t), meter(m), period(p), period_start_ms(start) {}
    KeyView(const Key& k) : KeyView(k.tenant, k.meter, k.period, k.period_start_ms) {}  // NOLINT: implicit on purpose
  };

  Decimal get(KeyView key) const;
  // Adds (or, for gauges, raises to) `quantity`; returns the previous value, for undo. Fails on
  // overflow and then changes nothing.
  Result<Decimal> add(const Key& key, Decimal quantity);
  void set(const Key& key, Decimal value);
  // Drops periods that began before `cutoff_ms`.
  void forget_before(std::int64_t cutoff_ms);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(KeyView k) const {
      return absl::Hash<std::tuple<std::string_view, int, int, std::int64_t>>{}(
          std::tuple(k.tenant, static_cast<int>(k.meter), static_cast<int>(k.period), k.period_start_ms));
    }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(KeyView a, KeyView b) const {
      return a.period_start_ms == b.period_start_ms && a.meter == b.meter && a.period == b.period &&
             a.tenant == b.tenant;
    }
  };
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<Key, Decimal, Hash, Eq> values;  // GUARDED_BY(mutex)
  };
  Shard& shard(std::string_view tenant) const;
  mutable std::array<Shard, 16> shards_;
};

}  // namespace meter::quota

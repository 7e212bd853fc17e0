#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
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
    template <class H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.tenant, static_cast<int>(k.meter), static_cast<int>(k.period),
                        k.period_start_ms);
    }
  };

  Decimal get(const Key& key) const;
  // Adds (or, for gauges, raises to) `quantity`; returns the previous value, for undo. Fails on
  // overflow and then changes nothing.
  Result<Decimal> add(const Key& key, Decimal quantity);
  void set(const Key& key, Decimal value);
  // Drops periods that began before `cutoff_ms`.
  void forget_before(std::int64_t cutoff_ms);

 private:
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<Key, Decimal> values;  // GUARDED_BY(mutex)
  };
  Shard& shard(const std::string& tenant) const;
  mutable std::array<Shard, 16> shards_;
};

}  // namespace meter::quota

#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/sync.h"

namespace meter::ingest {

// Per-tenant token buckets for ingest: `rate` events per second, bursts up to `burst`. A
// request larger than the burst is let through when the bucket is full and leaves it in debt,
// so big batches are slowed, never refused forever. rate 0 turns limiting off.
// Thread-safe: buckets are sharded by tenant, each shard under its own mutex.
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, std::uint64_t rate_per_second, std::uint64_t burst);

  // Takes n events' worth; nullopt when allowed, else how long until it would be.
  std::optional<std::chrono::milliseconds> acquire(std::string_view tenant, std::uint64_t n);
  // Gives back what acquire() took, when the request is refused for another reason.
  void refund(std::string_view tenant, std::uint64_t n);

 private:
  struct Bucket {
    std::int64_t milli_tokens = 0;  // thousandths of an event, so refill needs no floats
    std::int64_t updated_ms = 0;
  };
  struct Shard {
    Mutex mutex;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mutex);
  };
  Shard& shard_for(std::string_view tenant);
  void refill(Bucket& bucket, std::int64_t now_ms) const;

  const Clock& clock_;
  std::int64_t rate_;         // events per second
  std::int64_t burst_milli_;  // bucket capacity in milli-tokens
  std::array<Shard, 16> shards_;
};

}  // namespace meter::ingest

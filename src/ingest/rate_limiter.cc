#include "ingest/rate_limiter.h"

#include <absl/hash/hash.h>

#include <algorithm>

namespace meter::ingest {

RateLimiter::RateLimiter(const Clock& clock, std::uint64_t rate_per_second, std::uint64_t burst)
    : clock_(clock),
      rate_(static_cast<std::int64_t>(rate_per_second)),
      burst_milli_(static_cast<std::int64_t>(std::max(burst, std::uint64_t{1})) * 1000) {}

RateLimiter::Shard& RateLimiter::shard_for(std::string_view tenant) {
  return shards_[absl::Hash<std::string_view>{}(tenant) % shards_.size()];
}

void RateLimiter::refill(Bucket& bucket, std::int64_t now_ms) const {
  std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
  // rate events/s = rate milli-tokens per ms.
  bucket.milli_tokens =
      std::min(burst_milli_, bucket.milli_tokens + std::min(elapsed, std::int64_t{1} << 32) * rate_);
  bucket.updated_ms = now_ms;
}

std::optional<std::chrono::milliseconds> RateLimiter::acquire(std::string_view tenant, std::uint64_t n) {
  if (rate_ == 0) return std::nullopt;
  std::int64_t now_ms = to_unix_ms(clock_.now());
  std::int64_t want = static_cast<std::int64_t>(std::min<std::uint64_t>(n, 1ull << 40)) * 1000;
  Shard& shard = shard_for(tenant);
  MutexLock lock(shard.mutex);
  auto [it, inserted] = shard.buckets.try_emplace(std::string(tenant));
  Bucket& bucket = it->second;
  if (inserted) bucket = {burst_milli_, now_ms};
  refill(bucket, now_ms);
  std::int64_t needed = std::min(want, burst_milli_);
  if (bucket.milli_tokens >= needed) {
    bucket.milli_tokens -= want;  // may go into debt for a batch larger than the burst
    return std::nullopt;
  }
  std::int64_t missing = needed - bucket.milli_tokens;
  return std::chrono::milliseconds((missing + rate_ - 1) / rate_);
}

void RateLimiter::refund(std::string_view tenant, std::uint64_t n) {
  if (rate_ == 0) return;
  Shard& shard = shard_for(tenant);
  MutexLock lock(shard.mutex);
  auto it = shard.buckets.find(std::string(tenant));
  if (it == shard.buckets.end()) return;
  it->second.milli_tokens =
      std::min(burst_milli_, it->second.milli_tokens + static_cast<std::int64_t>(n) * 1000);
}

}  // namespace meter::ingest

#include "quota/live_counters.h"

#include <algorithm>
#include <functional>

namespace meter::quota {

LiveCounters::Shard& LiveCounters::shard(std::string_view tenant) const {
  return shards_[std::hash<std::string_view>{}(tenant) % shards_.size()];
}

Decimal LiveCounters::get(KeyView key) const {
  Shard& s = shard(key.tenant);
  std::lock_guard lock(s.mutex);
  auto it = s.values.find(key);
  return it == s.values.end() ? Decimal() : it->second;
}

Result<Decimal> LiveCounters::add(const Key& key, Decimal quantity) {
  Shard& s = shard(key.tenant);
  std::lock_guard lock(s.mutex);
  Decimal& value = s.values[key];
  Decimal previous = value;
  if (is_gauge(key.meter)) {
    value = std::max(value, quantity);
    return previous;
  }
  auto sum = value.checked_add(quantity);
  if (!sum) return fail(Error::invalid("quantity", "usage counter overflows"));
  value = *sum;
  return previous;
}

void LiveCounters::set(const Key& key, Decimal value) {
  Shard& s = shard(key.tenant);
  std::lock_guard lock(s.mutex);
  s.values[key] = value;
}

void LiveCounters::forget_before(std::int64_t cutoff_ms) {
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    absl::erase_if(s.values, [&](const auto& entry) { return entry.first.period_start_ms < cutoff_ms; });
  }
}

}  // namespace meter::quota

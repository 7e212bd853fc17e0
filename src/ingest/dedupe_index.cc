#include "ingest/dedupe_index.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/identifier.h"

namespace meter::ingest {
std::uint32_t dedupe_hour(Timestamp t) {
  auto hours = std::chrono::floor<std::chrono::hours>(t).time_since_epoch().count();
  return static_cast<std::uint32_t>(std::max<std::int64_t>(hours, 0));
}

DedupeKey dedupe_key(std::string_view tenant_id, std::string_view id) {
  // '\0' cannot occur in an identifier, so the joined text is unambiguous.
  char buffer[2 * kMaxIdentifierLength + 1];
  XXH128_hash_t h;
  if (tenant_id.size() + id.size() + 1 <= sizeof buffer) {
    std::memcpy(buffer, tenant_id.data(), tenant_id.size());
    buffer[tenant_id.size()] = '\0';
    std::memcpy(buffer + tenant_id.size() + 1, id.data(), id.size());
    h = XXH3_128bits(buffer, tenant_id.size() + 1 + id.size());
  } else {
    std::string joined(tenant_id);
    joined.push_back('\0');
    joined.append(id);
    h = XXH3_128bits(joined.data(), joined.size());
  }
  return {h.low64, h.high64};
}

void DedupeIndex::insert_all(std::span<const std::pair<DedupeKey, Timestamp>> ids) {
  constexpr std::size_t kAhead = 8;
  for (std::size_t j = 0; j < std::min(kAhead, ids.size()); ++j) prefetch(ids[j].first);
  for (std::size_t j = 0; j < ids.size(); ++j) {
    if (j + kAhead < ids.size()) prefetch(ids[j + kAhead].first);
    insert(ids[j].first, ids[j].second);
  }
}

bool InMemoryDedupeIndex::insert(const DedupeKey& key, Timestamp received_at) {
  return ids_.try_emplace(key, dedupe_hour(received_at)).second;
}

std::size_t InMemoryDedupeIndex::expire(Timestamp cutoff) {
  std::uint32_t cutoff_hour = dedupe_hour(cutoff);
  std::size_t before = ids_.size();
  absl::erase_if(ids_, [&](const auto& entry) { return entry.second < cutoff_hour; });
  return before - ids_.size();
}

}  // namespace meter::ingest

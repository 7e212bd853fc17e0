#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <absl/container/flat_hash_map.h>

#include "quota/limits.h"
#include "quota/zone.h"

namespace meter::quota {

// Every tenant's quota settings in memory, for the ingest writer and the quota endpoints; a
// tenant without settings of its own gets the defaults (DEFAULT_QUOTA_*, soft, UTC).
// Thread-safe: lookups share a lock and get an immutable snapshot of the tenant's entry.
class QuotaBook {
 public:
  struct Entry {
    TenantQuota quota;
    Zone zone;
    bool custom = false;  // false: the defaults
  };

  explicit QuotaBook(TenantQuota defaults);

  std::shared_ptr<const Entry> get(std::string_view tenant) const;
  // Replaces a tenant's settings; fails (changing nothing) on an unknown time zone.
  Status set(const std::string& tenant, const TenantQuota& quota);

 private:
  mutable std::shared_mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Entry>> tenants_;  // GUARDED_BY(mutex_)
  std::shared_ptr<const Entry> defaults_;
};

}  // namespace meter::quota

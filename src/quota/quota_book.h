#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>
#include <absl/container/flat_hash_map.h>

#include "quota/limits.h"
#include "quota/zone.h"

namespace meter::quota {

// Every tenant's quota settings in memory, for the ingest writer and the quota endpoints; a
// tenant without settings of its own gets the defaults (DEFAULT_QUOTA_*, soft, UTC).
// Thread-safe: lookups share a lock and get an immutable entry. Entries are never freed while
// the book lives (a replaced one is retired, not deleted), so a lookup hands out a plain pointer
// and pays no reference count: settings change rarely, lookups happen per event.
class QuotaBook {
 public:
  struct Entry {
    Zone zone;  // first: a check reads the zone and the first meter's limits, two adjacent lines
    bool custom = false;  // false: the defaults
    TenantQuota quota;
  };

  explicit QuotaBook(TenantQuota defaults);

  // Never null; valid as long as the book.
  const Entry* get(std::string_view tenant) const;
  // Replaces a tenant's settings; fails (changing nothing) on an unknown time zone.
  Status set(const std::string& tenant, const TenantQuota& quota);

 private:
  mutable std::shared_mutex mutex_;
  absl::flat_hash_map<std::string, const Entry*> tenants_;  // GUARDED_BY(mutex_)
  std::vector<std::unique_ptr<const Entry>> entries_;     // GUARDED_BY(mutex_): owns every entry
  std::unique_ptr<const Entry> defaults_;
};

}  // namespace meter::quota

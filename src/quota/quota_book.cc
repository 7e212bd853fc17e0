#include "quota/quota_book.h"

#include <mutex>

namespace meter::quota {

QuotaBook::QuotaBook(TenantQuota defaults) {
  auto zone = Zone::find(defaults.time_zone);
  defaults_ = std::make_unique<const Entry>(Entry{zone ? *zone : Zone::utc(), false, defaults});
}

const QuotaBook::Entry* QuotaBook::get(std::string_view tenant) const {
  std::shared_lock lock(mutex_);
  auto it = tenants_.find(std::string(tenant));
  return it == tenants_.end() ? defaults_.get() : it->second;
}

Status QuotaBook::set(const std::string& tenant, const TenantQuota& quota) {
  auto zone = Zone::find(quota.time_zone);
  if (!zone) return fail(zone.error());
  auto entry = std::make_unique<const Entry>(Entry{*zone, true, quota});
  std::unique_lock lock(mutex_);
  tenants_[tenant] = entry.get();
  entries_.push_back(std::move(entry));
  return {};
}

}  // namespace meter::quota

#include "quota/quota_book.h"

#include <mutex>

namespace meter::quota {

QuotaBook::QuotaBook(TenantQuota defaults) {
  auto zone = Zone::find(defaults.time_zone);
  defaults_ = std::make_shared<const Entry>(Entry{defaults, zone ? *zone : Zone::utc(), false});
}

std::shared_ptr<const QuotaBook::Entry> QuotaBook::get(std::string_view tenant) const {
  std::shared_lock lock(mutex_);
  auto it = tenants_.find(std::string(tenant));
  return it == tenants_.end() ? defaults_ : it->second;
}

Status QuotaBook::set(const std::string& tenant, const TenantQuota& quota) {
  auto zone = Zone::find(quota.time_zone);
  if (!zone) return fail(zone.error());
  auto entry = std::make_shared<const Entry>(Entry{quota, *zone, true});
  std::unique_lock lock(mutex_);
  tenants_[tenant] = std::move(entry);
  return {};
}

}  // namespace meter::quota

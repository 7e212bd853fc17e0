#pragma once

#include <spdlog/spdlog.h>

#include "store/clickhouse/clickhouse_store.h"
#include "store/forwarding_store.h"

namespace meter::store::clickhouse {

// meterd with ClickHouse: events are acknowledged once they are in the local durable log (the
// embedded store, which also keeps the dedupe ids, quota settings and alerts), and
// ingest::Shipper moves them to ClickHouse. Usage, reconciliation and retention read and act
// on ClickHouse, the system of record for analytics.
class ClickHouseBackedStore final : public ForwardingStore {
 public:
  ClickHouseBackedStore(Store& local_log, ClickHouseStore& remote)
      : ForwardingStore(local_log), remote_(remote) {}

  std::string_view name() const override { return "clickhouse"; }
  Result<std::vector<UsageRow>> usage(const UsageQuery& q) override { return remote_.usage(q); }
  Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) override {
    return remote_.check_rollups(month, tenant_id);
  }
  Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from,
                                           Timestamp to) override {
    return remote_.raw_totals(tenant_id, from, to);
  }
  Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& q) override {
    return remote_.aggregate_raw(q);
  }
  Result<std::vector<int>> months() override { return remote_.months(); }
  Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) override {
    return remote_.tenants(from, to);
  }
  // Drops the month in ClickHouse and in the local log.
  Status drop_month(int month) override {
    if (auto s = remote_.drop_month(month); !s) return s;
    return inner_.drop_month(month);
  }
  // The local copy decides; ClickHouse's tenant_quotas mirrors it for dashboards and SQL.
  Status put_quota(std::string_view tenant_id, const quota::TenantQuota& q) override {
    if (auto s = inner_.put_quota(tenant_id, q); !s) return s;
    if (auto s = remote_.put_quota(tenant_id, q); !s) {
      spdlog::warn("quota of {} saved locally, not mirrored to ClickHouse: {}", tenant_id, s.error().message);
    }
    return {};
  }

 private:
  ClickHouseStore& remote_;
};

}  // namespace meter::store::clickhouse

#pragma once

#include "store/store.h"

namespace meter::store {

// A Store that passes every call to another one; a decorator overrides only what it changes
// (e.g. the ClickHouse-backed store, which answers usage from ClickHouse and writes to the
// local log).
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  std::string_view name() const override { return inner_.name(); }
  Status append(std::span<const Event> events) override { return inner_.append(events); }
  Result<std::vector<UsageRow>> usage(const UsageQuery& q) override { return inner_.usage(q); }
  Status scan_recent_ids(Timestamp received_since, Timestamp timestamp_since, const RowCursor* after,
                         const IdVisitor& v) override {
    return inner_.scan_recent_ids(received_since, timestamp_since, after, v);
  }
  Result<RowCursor> row_cursor() override { return inner_.row_cursor(); }
  Result<std::int64_t> rows_after(const RowCursor& cursor) override { return inner_.rows_after(cursor); }
  Status scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& v) override {
    return inner_.scan_for_quotas(since, summable, v);
  }
  Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) override {
    return inner_.check_rollups(month, tenant_id);
  }
  Result<std::vector<int>> months() override { return inner_.months(); }
  Status drop_month(int month) override { return inner_.drop_month(month); }
  Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from,
                                           Timestamp to) override {
    return inner_.raw_totals(tenant_id, from, to);
  }
  Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& q) override {
    return inner_.aggregate_raw(q);
  }
  Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) override {
    return inner_.tenants(from, to);
  }
  Status put_tenant_plan(std::string_view tenant_id, std::string_view plan) override {
    return inner_.put_tenant_plan(tenant_id, plan);
  }
  Result<std::optional<std::string>> tenant_plan(std::string_view tenant_id) override {
    return inner_.tenant_plan(tenant_id);
  }
  Status put_finalized_invoice(const FinalizedInvoice& invoice) override {
    return inner_.put_finalized_invoice(invoice);
  }
  Result<std::optional<FinalizedInvoice>> finalized_invoice(std::string_view tenant_id, int month) override {
    return inner_.finalized_invoice(tenant_id, month);
  }
  Result<std::vector<FinalizedInvoice>> finalized_invoices(int month) override {
    return inner_.finalized_invoices(month);
  }
  Status put_quota(std::string_view tenant_id, const quota::TenantQuota& q) override {
    return inner_.put_quota(tenant_id, q);
  }
  Result<std::vector<std::pair<std::string, quota::TenantQuota>>> list_quotas() override {
    return inner_.list_quotas();
  }
  Result<std::optional<std::int64_t>> record_alert(const quota::Alert& a) override {
    return inner_.record_alert(a);
  }
  Status update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) override {
    return inner_.update_alert_delivery(id, delivery, attempts);
  }
  Result<std::vector<AlertRecord>> list_alerts(std::string_view tenant_id, std::size_t limit,
                                               bool pending_only) override {
    return inner_.list_alerts(tenant_id, limit, pending_only);
  }

 protected:
  Store& inner_;
};

}  // namespace meter::store

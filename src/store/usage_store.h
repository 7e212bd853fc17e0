#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregation.h"
#include "core/decimal.h"
#include "core/error.h"
#include "core/event.h"
#include "core/time.h"
#include "quota/limits.h"

namespace meter::store {

// Usage of one tenant over [from, to), bucketed by window, optionally one event type.
struct UsageQuery {
  std::string tenant_id;
  std::optional<std::string> event_type;
  Timestamp from;
  Timestamp to;
  Window window = Window::kDay;
};

struct UsageRow {
  Timestamp bucket_start;
  std::string event_type;
  Decimal quantity;
  std::int64_t events = 0;
};

// Collects usage rows read from a rollup table in (bucket start, event type) order, folding
// days into months for Window::kMonth, so that every backend answers in the same shape.
class UsageRows {
 public:
  explicit UsageRows(Window window) : window_(window) {}
  // Fails when a month's sum overflows.
  Status add(Timestamp bucket_start, std::string event_type, Decimal quantity, std::int64_t events);
  std::vector<UsageRow> finish() &&;

 private:
  Window window_;
  std::vector<UsageRow> rows_;
};

// Raw events against their rollups for one tenant, event type and month: what reconciliation
// compares. Any difference is drift.
struct RollupSum {
  Decimal quantity;
  std::int64_t events = 0;
  bool operator==(const RollupSum&) const = default;
};
struct RollupCheck {
  std::string tenant_id;
  std::string event_type;
  RollupSum raw, hourly, daily;
  std::int64_t corrections = 0;  // retractions among the raw rows (docs/corrections.md)
  bool drift() const { return !(raw == hourly && raw == daily); }
};

// Sums usage rows per event type (quantities and event counts), sorted by event type; fails
// on overflow. The rows' bucket_start is then the epoch.
Result<std::vector<UsageRow>> totals_by_type(const std::vector<UsageRow>& rows);

// Merges rows into the buckets bucket_of maps their starts to (e.g. quarter hours into a zone's
// local days), summing per (bucket, event type), sorted by both; fails on overflow.
Result<std::vector<UsageRow>> rebucket(const std::vector<UsageRow>& rows,
                                       const std::function<Timestamp(Timestamp)>& bucket_of);

// One meter's events of a tenant in [from, to), aggregated from the raw events, optionally per
// value of a metadata field (group_by) and per UTC quarter hour.
struct AggregateQuery {
  std::string tenant_id;
  std::string event_type;  // empty = every event type, in one pass (rows then say which)
  Timestamp from;
  Timestamp to;
  Aggregation aggregation = Aggregation::kSum;
  std::string field;     // unique_count: the metadata field whose distinct values are counted
  std::string group_by;  // a metadata field; empty = one group
  bool by_quarter_hour = false;
};
struct AggregateRow {
  std::string group;  // the group_by field's value ("" when absent or not grouped)
  Timestamp bucket;   // the quarter hour, when by_quarter_hour; else the query's from
  Decimal value;
  std::int64_t events = 0;
  std::string event_type;  // the row's event type (the query's, or each one's when it named none)
};

// Where usage is read from: rollups, raw aggregates, reconciliation and retention. The embedded
// store (sqlite/) answers from its own tables; with ClickHouse, the ClickHouse usage store
// (clickhouse/) does, as the system of record for analytics. Thread-safe.
class UsageStore {
 public:
  virtual ~UsageStore() = default;

  // A short name for /health and logs, e.g. "sqlite".
  virtual std::string_view name() const = 0;

  // Usage from the rollups. Buckets are sorted by start, then event type.
  virtual Result<std::vector<UsageRow>> usage(const UsageQuery& query) = 0;

  // Totals per event type of the raw events of a tenant with timestamps in [from, to): the
  // audit path (invoices --from-raw, and the partial hours of a month in a half-hour zone).
  virtual Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from,
                                                   Timestamp to) = 0;

  // Aggregations the rollups do not keep (AggregateQuery), from the raw events; rows sorted by
  // event type, group, then bucket.
  virtual Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& query) = 0;

  // Tenants with any usage in [from, to) (from the daily rollups), sorted: who a billing run bills.
  virtual Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) = 0;

  // Reconciliation: raw sums against hourly and daily rollups for the UTC month YYYYMM, one
  // row per (tenant, event type) seen in any of them; all tenants when tenant_id is empty.
  virtual Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) = 0;

  // Retention: the UTC months (YYYYMM) that hold raw events, oldest first, and dropping one
  // whole month (raw events and its rollups) at once.
  virtual Result<std::vector<int>> months() = 0;
  virtual Status drop_month(int month) = 0;

  // A backend that keeps its own copy of tenants' quota settings, for dashboards and SQL joins
  // (ClickHouse's tenant_quotas), refreshes it here; the tenant records stay what decides.
  virtual Status mirror_quota(std::string_view /*tenant_id*/, const quota::TenantQuota& /*quota*/) {
    return {};
  }
};

}  // namespace meter::store

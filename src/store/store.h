#pragma once

#include <cstdint>
#include <functional>
#include <map>
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
#include "quota/alert.h"
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
  bool drift() const { return !(raw == hourly && raw == daily); }
};

// Sums usage rows per event type (quantities and event counts), sorted by event type; fails
// on overflow. The rows' bucket_start is then the epoch.
Result<std::vector<UsageRow>> totals_by_type(const std::vector<UsageRow>& rows);

// Merges rows into the buckets bucket_of maps their starts to (e.g. quarter hours into a zone's
// local days), summing per (bucket, event type), sorted by both; fails on overflow.
Result<std::vector<UsageRow>> rebucket(const std::vector<UsageRow>& rows,
                                       const std::function<Timestamp(Timestamp)>& bucket_of);

using EventVisitor = std::function<void(std::string_view tenant_id, std::string_view event_type,
                                        Decimal quantity, Timestamp timestamp)>;
using TypeFilter = std::function<bool(std::string_view event_type)>;

// A quota alert as stored, with how its webhook delivery went.
struct AlertRecord {
  std::int64_t id = 0;
  quota::Alert alert;
  std::string delivery;  // "pending", "delivered", "failed", "no webhook"
  int attempts = 0;
};

// An invoice as finalized: the exact bytes every later read returns.
struct FinalizedInvoice {
  std::string tenant_id;
  int month = 0;  // YYYYMM
  std::string json;
  std::string csv;
  Timestamp finalized_at;
};

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

using IdVisitor = std::function<void(std::string_view tenant_id, std::string_view id, Timestamp received_at)>;

// Where the raw events end: the last row of each monthly partition (YYYYMM -> row number).
// Rows are only ever appended, so the rows past a cursor are the events stored since it was read.
using RowCursor = std::map<int, std::int64_t>;

// Where events and their rollups live. Implementations: sqlite/ (embedded, the default).
//
// append() is called by one thread at a time (the ingest writer) and is atomic: either every
// event of the call and its rollup contribution is durably stored, or none is. The other
// methods are thread-safe and may run concurrently with append().
class Store {
 public:
  virtual ~Store() = default;

  // A short name for /health and logs, e.g. "sqlite".
  virtual std::string_view name() const = 0;

  // Stores the events (already validated and deduplicated) and updates the rollups.
  // Returns only after the data is on disk.
  virtual Status append(std::span<const Event> events) = 0;

  // Usage from the rollups. Buckets are sorted by start, then event type.
  virtual Result<std::vector<UsageRow>> usage(const UsageQuery& query) = 0;

  // Visits (tenant, id, received_at) of every stored event received at or after
  // `received_since` whose timestamp is at or after `timestamp_since`: what the dedupe index
  // must remember after a restart. With `after`, only the rows past it.
  virtual Status scan_recent_ids(Timestamp received_since, Timestamp timestamp_since, const RowCursor* after,
                                 const IdVisitor& visit) = 0;

  // Where the raw events end now, and how many lie past a cursor read earlier.
  virtual Result<RowCursor> row_cursor() = 0;
  virtual Result<std::int64_t> rows_after(const RowCursor& cursor) = 0;

  // What the live quota counters are rebuilt from at start, from `since` (a quarter hour) on:
  // for event types that `summable` accepts, one (tenant, type, sum, quarter start) per quarter
  // hour from the rollups, exact because every zone's day begins on a quarter hour; for the
  // other types (gauges, whose counters keep maxima) every stored event.
  virtual Status scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) = 0;

  // Reconciliation: raw sums against hourly and daily rollups for the UTC month YYYYMM, one
  // row per (tenant, event type) seen in any of them; all tenants when tenant_id is empty.
  virtual Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) = 0;

  // Retention: the UTC months (YYYYMM) that hold raw events, oldest first, and dropping one
  // whole month (raw events and its rollups) at once.
  virtual Result<std::vector<int>> months() = 0;
  virtual Status drop_month(int month) = 0;

  // Totals per event type of the raw events of a tenant with timestamps in [from, to): the
  // audit path (invoices --from-raw, and the partial hours of a month in a half-hour zone).
  virtual Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from,
                                                   Timestamp to) = 0;

  // Aggregations the rollups do not keep (store.h AggregateQuery), from the raw events; rows
  // sorted by event type, group, then bucket.
  virtual Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& query) = 0;

  // Tenants with any usage in [from, to) (from the daily rollups), sorted: who a billing run bills.
  virtual Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) = 0;

  // Tenants' plans (tenant_plans); a tenant without a row is on the default plan.
  virtual Status put_tenant_plan(std::string_view tenant_id, std::string_view plan) = 0;
  virtual Result<std::optional<std::string>> tenant_plan(std::string_view tenant_id) = 0;

  // Finalized invoices: an immutable snapshot per tenant and month (YYYYMM), in both formats.
  // put fails with kConflict when the month is already finalized.
  virtual Status put_finalized_invoice(const FinalizedInvoice& invoice) = 0;
  virtual Result<std::optional<FinalizedInvoice>> finalized_invoice(std::string_view tenant_id,
                                                                    int month) = 0;
  virtual Result<std::vector<FinalizedInvoice>> finalized_invoices(int month) = 0;

  // Tenants' quota settings (tenant_quotas).
  virtual Status put_quota(std::string_view tenant_id, const quota::TenantQuota& quota) = 0;
  virtual Result<std::vector<std::pair<std::string, quota::TenantQuota>>> list_quotas() = 0;

  // Quota alerts (quota_alerts). record_alert returns the new id, or nullopt when this tenant,
  // meter, period and threshold already fired (alerts fire once, also across restarts).
  virtual Result<std::optional<std::int64_t>> record_alert(const quota::Alert& alert) = 0;
  virtual Status update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) = 0;
  // Newest first; all tenants when tenant_id is empty; with pending_only, only those whose
  // webhook delivery has not ended (to resume after a restart).
  virtual Result<std::vector<AlertRecord>> list_alerts(std::string_view tenant_id, std::size_t limit,
                                                       bool pending_only) = 0;
};

}  // namespace meter::store

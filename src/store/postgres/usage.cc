// PgStore as the usage store: rollup reads, raw totals and aggregates, reconciliation and
// retention. Every sum is PostgreSQL's exact numeric, read back into meterd's decimals.
#include <fmt/format.h>

#include <map>

#include "store/postgres/pg_store.h"
#include "store/postgres/schema.h"

namespace meter::store::postgres {
namespace {

std::string ms(Timestamp t) { return std::to_string(to_unix_ms(t)); }

// The value of one aggregation over a group of raw events.
std::string value_sql(Aggregation a) {
  switch (a) {
    case Aggregation::kSum:
      return "sum(quantity)";
    case Aggregation::kCount:
      return "count(*)::numeric";
    case Aggregation::kMax:
      return "max(quantity)";
    case Aggregation::kMin:
      return "min(quantity)";
    case Aggregation::kLatest:
      return "(array_agg(quantity ORDER BY ts DESC))[1]";
    case Aggregation::kUniqueCount:
      break;  // needs the field: aggregate_raw() writes it
  }
  return "0";
}

}  // namespace

Result<std::vector<UsageRow>> PgStore::usage(const UsageQuery& query) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  const char* table = query.window == Window::kQuarterHour ? "usage_quarter_hour"
                      : query.window == Window::kHour      ? "usage_hourly"
                                                           : "usage_daily";
  Param params[] = {query.tenant_id, ms(query.from), ms(query.to), query.event_type};
  auto rows =
      (*db)->query(fmt::format("SELECT bucket_start, event_type, quantity, events FROM {} "
                               "WHERE tenant_id = $1 AND bucket_start >= $2 AND bucket_start < $3 "
                               "AND ($4::text IS NULL OR event_type = $4) ORDER BY bucket_start, event_type",
                               table),
                   params);
  if (!rows) return fail(rows.error());
  UsageRows out(query.window);
  for (int r = 0; r < rows->size(); ++r) {
    auto quantity = rows->decimal(r, 2, table);
    if (!quantity) return fail(quantity.error());
    if (auto s = out.add(from_unix_ms(rows->int64(r, 0)), rows->str(r, 1), *quantity, rows->int64(r, 3)); !s)
      return fail(s.error());
  }
  return std::move(out).finish();
}

Result<std::vector<UsageRow>> PgStore::raw_totals(std::string_view tenant_id, Timestamp from, Timestamp to) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), ms(from), ms(to)};
  auto rows = (*db)->query(
      fmt::format("SELECT event_type, sum(quantity), {} FROM usage_events WHERE tenant_id = $1 AND ts >= $2 "
                  "AND ts < $3 GROUP BY event_type ORDER BY event_type",
                  kSignedCount),
      params);
  if (!rows) return fail(rows.error());
  std::vector<UsageRow> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto quantity = rows->decimal(r, 1, "a usage sum");
    if (!quantity) return fail(quantity.error());
    out.push_back({from, rows->str(r, 0), *quantity, rows->int64(r, 2)});
  }
  return out;
}

Result<std::vector<AggregateRow>> PgStore::aggregate_raw(const AggregateQuery& q) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  // As on SQLite: a group is the group_by field's value as text ('' when absent); unique_count
  // counts the field's distinct values among the events that have it (and reports no events).
  std::vector<Param> params = {q.tenant_id, ms(q.from), ms(q.to), q.event_type};
  auto placeholder = [&params](const std::string& value) {
    params.push_back(value);
    return fmt::format("${}::text", params.size());
  };
  std::string group =
      q.group_by.empty() ? "''" : "coalesce(metadata::jsonb ->> " + placeholder(q.group_by) + ", '')";
  std::string bucket = q.by_quarter_hour ? "ts - ((ts % 900000) + 900000) % 900000" : "0";
  std::string where =
      std::string("tenant_id = $1 AND ts >= $2 AND ts < $3 AND ($4 = '' OR event_type = $4)") + kLiveRows;
  std::string value = value_sql(q.aggregation);
  std::string events = "count(*)";
  if (q.aggregation == Aggregation::kUniqueCount) {
    std::string field = "metadata::jsonb ->> " + placeholder(q.field);
    value = fmt::format("count(DISTINCT {})::numeric", field);
    events = "0";
    where += fmt::format(" AND {} IS NOT NULL", field);
  }
  std::string sql = fmt::format(
      "SELECT event_type, {} AS g, {} AS b, {}, {} FROM usage_events WHERE {} GROUP BY 1, 2, 3 ORDER BY 1, "
      "2, 3",
      group, bucket, value, events, where);
  auto rows = (*db)->query(sql, params);
  if (!rows) return fail(rows.error());
  std::vector<AggregateRow> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto aggregate = rows->decimal(r, 3, "an aggregate");
    if (!aggregate) return fail(aggregate.error());
    Timestamp bucket_at = q.by_quarter_hour ? from_unix_ms(rows->int64(r, 2)) : q.from;
    out.push_back({rows->str(r, 1), bucket_at, *aggregate, rows->int64(r, 4), rows->str(r, 0)});
  }
  return out;
}

Result<std::vector<std::string>> PgStore::tenants(Timestamp from, Timestamp to) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  // Days overlapping [from, to): a zone's month starts mid-UTC-day.
  Param params[] = {ms(floor_to(Window::kDay, from)), ms(to)};
  auto rows = (*db)->query(
      "SELECT DISTINCT tenant_id FROM usage_daily WHERE bucket_start >= $1 AND bucket_start < $2 ORDER BY 1",
      params);
  if (!rows) return fail(rows.error());
  std::vector<std::string> out;
  for (int r = 0; r < rows->size(); ++r) out.push_back(rows->str(r, 0));
  return out;
}

Result<std::vector<RollupCheck>> PgStore::check_rollups(int month, std::string_view tenant_id) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), ms(month_start(month)),
                    ms(next_window(Window::kMonth, month_start(month)))};
  std::map<std::pair<std::string, std::string>, RollupCheck> checks;
  const char* filter = "($1 = '' OR tenant_id = $1)";
  for (auto [sql, side] :
       {std::pair{
            fmt::format("SELECT tenant_id, event_type, sum(quantity), {}, count(cancels) FROM usage_events "
                        "WHERE {} AND ts >= $2 AND ts < $3 GROUP BY 1, 2",
                        kSignedCount, filter),
            &RollupCheck::raw},
        std::pair{
            fmt::format("SELECT tenant_id, event_type, sum(quantity), sum(events) FROM usage_hourly WHERE "
                        "{} AND bucket_start >= $2 AND bucket_start < $3 GROUP BY 1, 2",
                        filter),
            &RollupCheck::hourly},
        std::pair{
            fmt::format("SELECT tenant_id, event_type, sum(quantity), sum(events) FROM usage_daily WHERE "
                        "{} AND bucket_start >= $2 AND bucket_start < $3 GROUP BY 1, 2",
                        filter),
            &RollupCheck::daily}}) {
    auto rows = (*db)->query(sql, params);
    if (!rows) return fail(rows.error());
    for (int r = 0; r < rows->size(); ++r) {
      auto q = rows->decimal(r, 2, "the events being reconciled");
      if (!q) return fail(q.error());
      auto& c = checks[{rows->str(r, 0), rows->str(r, 1)}];
      c.tenant_id = rows->str(r, 0);
      c.event_type = rows->str(r, 1);
      c.*side = {*q, rows->int64(r, 3)};
      if (side == &RollupCheck::raw) c.corrections = rows->int64(r, 4);
    }
  }
  std::vector<RollupCheck> out;
  for (auto& [key, c] : checks) out.push_back(std::move(c));
  return out;
}

Result<std::vector<int>> PgStore::months() {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  return partitions(**db);
}

Status PgStore::drop_month(int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  std::string from = ms(month_start(month));
  std::string to = ms(next_window(Window::kMonth, month_start(month)));
  auto dropped = in_transaction(**db, [&](Connection& tx) -> Result<Rows> {
    // The month's queue for ClickHouse goes with its events (retention drops ClickHouse's first).
    std::string sql = fmt::format(
        "SELECT pg_advisory_xact_lock({0}); DROP TABLE IF EXISTS usage_events_{1};\n"
        "DELETE FROM ship_queue WHERE month = {1}; DELETE FROM ship_in_flight WHERE month = {1};\n",
        kDdlLock, month);
    for (const char* table : {"usage_quarter_hour", "usage_hourly", "usage_daily"}) {
      sql += fmt::format("DELETE FROM {} WHERE bucket_start >= {} AND bucket_start < {};\n", table, from, to);
    }
    return tx.exec(sql);
  });
  if (!dropped) return fail(dropped.error());
  return {};
}

}  // namespace meter::store::postgres

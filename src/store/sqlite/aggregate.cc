// SqliteStore's reads of the raw events: aggregate_raw (the meter aggregations rollups do not
// keep) and raw_totals, from the monthly raw tables, merged across the months the range touches;
// and the tenants a billing run bills.
#include <fmt/format.h>

#include <map>
#include <set>
#include <tuple>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

struct Partial {
  Decimal value;
  std::int64_t latest_ms = 0;
  std::int64_t events = 0;
  bool seen = false;
  std::set<std::string> distinct;  // unique_count
};

const char* value_sql(Aggregation a) {
  switch (a) {
    case Aggregation::kSum:
      return "meter_dec_sum(quantity)";
    case Aggregation::kCount:
      return "'0'";
    case Aggregation::kMax:
      return "meter_dec_max(quantity)";
    case Aggregation::kMin:
      return "meter_dec_min(quantity)";
    case Aggregation::kLatest:
      return "quantity";  // a bare column: the row of max(ts), by SQLite's rule
    case Aggregation::kUniqueCount:
      return "'0'";
  }
  return "'0'";
}

}  // namespace

// What keeps only a partition's live rows for a tenant (its SQL names the tenant ?1): neither a
// retraction nor an event one cancels. Empty when the tenant has no retraction that month, the
// usual case, so that reads then pay nothing for corrections.
std::string live_rows(SQLite::Database& db, const std::string& tenant, int month) {
  SQLite::Statement any(db, "SELECT 1 FROM retractions WHERE tenant_id = ? AND month = ? LIMIT 1");
  any.bind(1, tenant);
  any.bind(2, month);
  if (!any.executeStep()) return "";
  return fmt::format(
      " AND cancels IS NULL AND id NOT IN (SELECT cancels FROM retractions WHERE tenant_id = ?1 AND month = "
      "{})",
      month);
}

// A retraction counts -1 event in sums and counts (core/event.h).
const char* const kSignedCount = "sum(CASE WHEN cancels IS NULL THEN 1 ELSE -1 END)";

Result<std::vector<AggregateRow>> SqliteStore::aggregate_raw(const AggregateQuery& q) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<AggregateRow>> {
    auto reader = borrow_connection();
    std::map<std::tuple<std::string, std::string, std::int64_t>, Partial> merged;  // type, group, bucket
    std::string group =
        "CASE WHEN ?4 = '' THEN '' ELSE coalesce(CAST(json_extract(metadata, '$.' || ?4) AS TEXT), '') END";
    std::string bucket = q.by_quarter_hour ? "ts - ((ts % 900000) + 900000) % 900000" : "0";
    std::string field = "CAST(json_extract(metadata, '$.' || ?5) AS TEXT)";
    for (int month : partitions()) {
      if (month < month_key(q.from) || month > month_key(q.to)) continue;
      std::string where = fmt::format(
          "FROM usage_events_{} WHERE tenant_id = ?1 AND (?6 = '' OR event_type = ?6) AND ts >= ?2 "
          "AND ts < ?3{}",
          month, live_rows(*reader, q.tenant_id, month));
      std::string sql =
          q.aggregation == Aggregation::kUniqueCount
              ? fmt::format(
                    "SELECT DISTINCT {} AS g, {} AS b, {} AS v, 0, 0, event_type {} AND v IS NOT NULL", group,
                    bucket, field, where)
              : fmt::format(
                    "SELECT {} AS g, {} AS b, {}, count(*), max(ts), event_type {} GROUP BY event_type, g, b",
                    group, bucket, value_sql(q.aggregation), where);
      SQLite::Statement stmt(*reader, sql);
      stmt.bind(1, q.tenant_id);
      stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(q.from)));
      stmt.bind(3, static_cast<std::int64_t>(to_unix_ms(q.to)));
      stmt.bind(4, q.group_by);
      stmt.bind(5, q.field);
      stmt.bind(6, q.event_type);
      while (stmt.executeStep()) {
        Partial& p = merged[{stmt.getColumn(5).getString(), stmt.getColumn(0).getString(),
                             stmt.getColumn(1).getInt64()}];
        if (q.aggregation == Aggregation::kUniqueCount) {
          p.distinct.insert(stmt.getColumn(2).getString());
          continue;
        }
        auto v = stored_decimal(stmt.getColumn(2).getString(), fmt::format("usage_events_{}", month));
        if (!v) return fail(v.error());
        std::int64_t events = stmt.getColumn(3).getInt64();
        std::int64_t latest = stmt.getColumn(4).getInt64();
        switch (q.aggregation) {
          case Aggregation::kSum: {
            auto sum = p.value.checked_add(*v);
            if (!sum) return fail(Error::invalid("quantity", "usage sum overflows"));
            p.value = *sum;
            break;
          }
          case Aggregation::kMax:
            if (!p.seen || *v > p.value) p.value = *v;
            break;
          case Aggregation::kMin:
            if (!p.seen || *v < p.value) p.value = *v;
            break;
          case Aggregation::kLatest:
            if (!p.seen || latest >= p.latest_ms) p.value = *v;
            break;
          default:
            break;
        }
        p.latest_ms = std::max(p.latest_ms, latest);
        p.events += events;
        p.seen = true;
      }
    }
    std::vector<AggregateRow> out;
    for (auto& [key, p] : merged) {
      Decimal value = p.value;
      if (q.aggregation == Aggregation::kCount) value = *Decimal::from_integer(p.events);
      if (q.aggregation == Aggregation::kUniqueCount) {
        value = *Decimal::from_integer(static_cast<std::int64_t>(p.distinct.size()));
      }
      auto& [type, group_value, bucket_ms] = key;
      out.push_back(
          {group_value, q.by_quarter_hour ? from_unix_ms(bucket_ms) : q.from, value, p.events, type});
    }
    return out;
  });
}

Result<std::vector<UsageRow>> SqliteStore::raw_totals(std::string_view tenant_id, Timestamp from,
                                                      Timestamp to) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<UsageRow>> {
    auto reader = borrow_connection();
    std::map<std::string, UsageRow> totals;
    for (int month : partitions()) {
      if (month < month_key(from) || month > month_key(to)) continue;
      SQLite::Statement stmt(*reader,
                             fmt::format("SELECT event_type, meter_dec_sum(quantity), {} FROM "
                                         "usage_events_{} WHERE tenant_id = ? AND ts >= ? AND ts < ? "
                                         "GROUP BY event_type",
                                         kSignedCount, month));
      stmt.bind(1, std::string(tenant_id));
      stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(from)));
      stmt.bind(3, static_cast<std::int64_t>(to_unix_ms(to)));
      while (stmt.executeStep()) {
        auto q = stored_decimal(stmt.getColumn(1).getString(), fmt::format("usage_events_{}", month));
        if (!q) return fail(q.error());
        auto [it, inserted] = totals.try_emplace(stmt.getColumn(0).getString(),
                                                 UsageRow{from, stmt.getColumn(0).getString(), {}, 0});
        auto sum = it->second.quantity.checked_add(*q);
        if (!sum) return fail(Error::invalid("quantity", "usage sum overflows"));
        it->second.quantity = *sum;
        it->second.events += stmt.getColumn(2).getInt64();
      }
    }
    std::vector<UsageRow> out;
    for (auto& [type, row] : totals) out.push_back(std::move(row));
    return out;
  });
}

Result<std::vector<std::string>> SqliteStore::tenants(Timestamp from, Timestamp to) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<std::string>> {
    auto db = borrow_connection();
    // Days overlapping [from, to): a zone's month starts mid-UTC-day.
    SQLite::Statement stmt(*db,
                           "SELECT DISTINCT tenant_id FROM usage_daily WHERE bucket_start >= ? "
                           "AND bucket_start < ? ORDER BY tenant_id");
    stmt.bind(1, static_cast<std::int64_t>(to_unix_ms(floor_to(Window::kDay, from))));
    stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(to)));
    std::vector<std::string> out;
    while (stmt.executeStep()) out.push_back(stmt.getColumn(0).getString());
    return out;
  });
}

}  // namespace meter::store::sqlite

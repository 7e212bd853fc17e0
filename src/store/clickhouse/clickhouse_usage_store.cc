#include "store/clickhouse/clickhouse_usage_store.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <future>
#include <optional>
#include <vector>

#include "core/deadline.h"
#include "core/time.h"
#include "store/clickhouse/row_binary.h"

namespace meter::store::clickhouse {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::int64_t unix_seconds(Timestamp t) { return duration_cast<seconds>(t.time_since_epoch()).count(); }

// Splits one TabSeparated answer into rows of fields, still escaped: numbers and identifiers
// read as they are; text that may hold anything goes through tsv_unescape().
std::vector<std::vector<std::string_view>> rows_of(std::string_view tsv) {
  std::vector<std::vector<std::string_view>> rows;
  while (!tsv.empty()) {
    std::size_t end = tsv.find('\n');
    std::string_view line = tsv.substr(0, end);
    tsv.remove_prefix(end == std::string_view::npos ? tsv.size() : end + 1);
    auto& row = rows.emplace_back();
    for (std::size_t tab; (tab = line.find('\t')) != std::string_view::npos; line.remove_prefix(tab + 1)) {
      row.push_back(line.substr(0, tab));
    }
    row.push_back(line);
  }
  return rows;
}

template <class Int>
Result<Int> integer(std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return fail(Error::internal(fmt::format("ClickHouse returned '{}' where a number was expected", text)));
  }
  return value;
}

Result<Decimal> decimal(std::string_view text) {
  auto d = Decimal::parse(text);
  if (!d)
    return fail(Error::internal(fmt::format("ClickHouse returned '{}' where a decimal was expected", text)));
  return *d;
}

std::string nullable(const std::optional<Decimal>& d) { return d ? d->to_string() : "NULL"; }

// A raw row's count, as a signed integer: a retraction counts -1. (Rollup event counts are
// UInt64 sums modulo 2^64; toInt64 reads them back the same way.)
std::string signed_count() { return std::string("toInt64(") + kSignedCount + ")"; }

// Runs the jobs at once (the first on this thread, the others on threads of their own, under
// this thread's deadline) and returns the first failure.
Status all_of(std::vector<std::function<Status()>> jobs) {
  const Deadline* deadline = Deadline::current();
  std::vector<std::future<Status>> others;
  for (std::size_t i = 1; i < jobs.size(); ++i) {
    others.push_back(std::async(std::launch::async, [&job = jobs[i], deadline] {
      std::optional<Deadline::Scope> scope;
      if (deadline != nullptr) scope.emplace(*deadline);
      return job();
    }));
  }
  Status first = jobs.front()();
  for (auto& other : others) {
    auto s = other.get();
    if (first && !s) first = s;
  }
  return first;
}

}  // namespace

std::string to_tsv(std::string_view batch_id, std::span<const Event> events) {
  std::string rows;
  rows.reserve(events.size() * 160);
  for (const Event& e : events) {
    std::int64_t ms = to_unix_ms(e.timestamp);
    std::int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    append_tsv_escaped(rows, e.id);
    rows += '\t';
    append_tsv_escaped(rows, e.tenant_id);
    rows += '\t';
    append_tsv_escaped(rows, e.event_type);
    fmt::format_to(std::back_inserter(rows), "\t{}\t{}\t{}\t{}\t", e.quantity.to_string(), s, ms - s * 1000,
                   unix_seconds(e.received_at));
    append_tsv_escaped(rows, e.metadata);
    rows += '\t';
    append_tsv_escaped(rows, batch_id);
    rows += '\t';
    append_tsv_escaped(rows, e.cancels);
    rows += '\n';
  }
  return rows;
}

Status ClickHouseUsageStore::insert_batch(std::string_view batch_id, std::span<const Event> events) {
  // The batch id as query id: a resend cannot run beside an earlier attempt still in progress.
  auto raw = [&] {
    return client_.insert(
        fmt::format("INSERT INTO {}.usage_events ({}) FORMAT RowBinary", db_, kInsertColumns),
        to_row_binary(batch_id, events), batch_id, cluster_.empty() ? "" : "insert_distributed_sync=1");
  };
  if (cluster_.empty()) return raw();
  // The raw rows and the rollups are independent inserts, each sent again whole until all of
  // them landed: they travel at once.
  auto jobs = rollup_inserts(batch_id, events);
  jobs.insert(jobs.begin(), raw);
  return all_of(std::move(jobs));
}

Result<std::uint64_t> ClickHouseUsageStore::batch_rows(std::string_view batch_id, int month) {
  auto answer =
      client_.query(fmt::format("SELECT count() FROM {}.usage_events WHERE toYYYYMM(timestamp) = {} "
                                "AND batch_id = {}",
                                db_, month, quote(batch_id)));
  if (!answer) return fail(answer.error());
  while (!answer->empty() && answer->back() == '\n') answer->pop_back();
  return integer<std::uint64_t>(*answer);
}

Status ClickHouseUsageStore::insert_rollups(std::string_view batch_id, std::span<const Event> events) {
  if (cluster_.empty()) return {};
  return all_of(rollup_inserts(batch_id, events));
}

std::vector<std::function<Status()>> ClickHouseUsageStore::rollup_inserts(std::string_view batch_id,
                                                                          std::span<const Event> events) {
  std::vector<std::function<Status()>> jobs;
  for (Window window : {Window::kHour, Window::kDay})
    jobs.push_back([this, batch_id, events, window] { return insert_rollup(batch_id, events, window); });
  return jobs;
}

Status ClickHouseUsageStore::insert_rollup(std::string_view batch_id, std::span<const Event> events,
                                           Window window) {
  const char* table = window == Window::kHour ? "usage_hourly" : "usage_daily";
  auto rows = to_rollup_row_binary(batch_id, events, window);
  if (!rows) return fail(rows.error());
  return client_.insert(
      fmt::format("INSERT INTO {}.{} ({}) FORMAT RowBinary", db_, table, kRollupInsertColumns), *rows,
      fmt::format("{}-{}", batch_id, table), "insert_distributed_sync=1");
}

Result<std::vector<UsageRow>> ClickHouseUsageStore::usage(const UsageQuery& query) {
  std::string type_filter = query.event_type ? " AND event_type = " + quote(*query.event_type) : "";
  // Quarter hours (used for the edges of a zone's month) come from the raw events: their
  // primary key (tenant, event type, time) makes a short range cheap.
  bool quarter = query.window == Window::kQuarterHour;
  std::string table = quarter                         ? "usage_events"
                      : query.window == Window::kHour ? "usage_hourly"
                                                      : "usage_daily";
  std::string bucket = quarter ? "toStartOfFifteenMinutes(timestamp)" : "bucket_start";
  auto answer = client_.query(fmt::format(
      "SELECT toUnixTimestamp({3}) AS b, event_type, sum(quantity), {4} FROM {0}.{1} "
      "WHERE tenant_id = {2} AND {5} >= toDateTime({6}, 'UTC') AND {5} < toDateTime({7}, 'UTC'){8} "
      "GROUP BY b, event_type ORDER BY b, event_type",
      db_, table, quote(query.tenant_id), bucket, quarter ? signed_count() : "toInt64(sum(events))",
      quarter ? "timestamp" : "bucket_start", unix_seconds(query.from), unix_seconds(query.to), type_filter));
  if (!answer) return fail(answer.error());
  UsageRows rows(query.window);
  for (const auto& f : rows_of(*answer)) {
    if (f.size() != 4) return fail(Error::internal("unexpected usage answer from ClickHouse"));
    auto start = integer<std::int64_t>(f[0]);
    auto quantity = decimal(f[2]);
    auto events = integer<std::int64_t>(f[3]);
    if (!start || !quantity || !events)
      return fail(Error::internal("unexpected usage answer from ClickHouse"));
    if (auto s = rows.add(from_unix_ms(*start * 1000), std::string(f[1]), *quantity, *events); !s)
      return fail(s.error());
  }
  return std::move(rows).finish();
}

Result<std::vector<UsageRow>> ClickHouseUsageStore::raw_totals(std::string_view tenant_id, Timestamp from,
                                                               Timestamp to) {
  // Millisecond bounds: whole seconds compare on `timestamp`, the rest on timestamp_ms.
  std::string at = "(toInt64(toUnixTimestamp(timestamp)) * 1000 + timestamp_ms)";
  auto answer = client_.query(fmt::format(
      "SELECT event_type, sum(quantity), {} FROM {}.usage_events WHERE tenant_id = {} "
      "AND timestamp >= toDateTime({}, 'UTC') AND timestamp <= toDateTime({}, 'UTC') AND {} >= {} AND {} < "
      "{} "
      "GROUP BY event_type ORDER BY event_type",
      signed_count(), db_, quote(tenant_id), unix_seconds(from), unix_seconds(to), at, to_unix_ms(from), at,
      to_unix_ms(to)));
  if (!answer) return fail(answer.error());
  std::vector<UsageRow> rows;
  for (const auto& f : rows_of(*answer)) {
    auto quantity = f.size() == 3 ? decimal(f[1]) : Result<Decimal>(fail(Error::internal("bad answer")));
    auto events = f.size() == 3 ? integer<std::int64_t>(f[2]) : Result<std::int64_t>(0);
    if (!quantity || !events) return fail(Error::internal("unexpected raw totals from ClickHouse"));
    rows.push_back({from, std::string(f[0]), *quantity, *events});
  }
  return rows;
}

Result<std::vector<AggregateRow>> ClickHouseUsageStore::aggregate_raw(const AggregateQuery& q) {
  // A metadata field as text: strings unquoted, numbers as written (as SQLite's json_extract).
  auto field = [](const std::string& name) {
    return fmt::format(
        "if(visitParamExtractString(metadata, {0}) != '', visitParamExtractString(metadata, {0}), "
        "visitParamExtractRaw(metadata, {0}))",
        quote(name));
  };
  std::string at = "(toInt64(toUnixTimestamp(timestamp)) * 1000 + timestamp_ms)";
  std::string value;
  switch (q.aggregation) {
    case Aggregation::kSum:
      value = "toString(sum(quantity))";
      break;
    case Aggregation::kCount:
      value = "toString(count())";
      break;
    case Aggregation::kMax:
      value = "toString(max(quantity))";
      break;
    case Aggregation::kMin:
      value = "toString(min(quantity))";
      break;
    case Aggregation::kLatest:
      value = "toString(argMax(quantity, " + at + "))";
      break;
    case Aggregation::kUniqueCount:
      value =
          "toString(uniqExactIf(" + field(q.field) + ", visitParamHas(metadata, " + quote(q.field) + ")))";
      break;
  }
  auto answer = client_.query(fmt::format(
      "SELECT {} AS g, {} AS b, {}, count(), event_type FROM {}.usage_events WHERE tenant_id = {}{} "
      "AND timestamp >= toDateTime({}, 'UTC') AND timestamp <= toDateTime({}, 'UTC') AND {} >= {} AND {} < "
      "{}{} "
      "GROUP BY event_type, g, b ORDER BY event_type, g, b",
      q.group_by.empty() ? "''" : field(q.group_by),
      q.by_quarter_hour ? "toUnixTimestamp(toStartOfFifteenMinutes(timestamp))" : "toUInt32(0)", value, db_,
      quote(q.tenant_id), q.event_type.empty() ? "" : " AND event_type = " + quote(q.event_type),
      unix_seconds(q.from), unix_seconds(q.to), at, to_unix_ms(q.from), at, to_unix_ms(q.to),
      // Live rows only: neither a retraction nor an event one cancels (docs/corrections.md). A
      // tenant's rows are on one shard, but a subquery over a Distributed table must be GLOBAL.
      fmt::format(
          " AND cancels = '' AND id {}NOT IN (SELECT cancels FROM {}.usage_events WHERE tenant_id = {} "
          "AND cancels != '')",
          cluster_.empty() ? "" : "GLOBAL ", db_, quote(q.tenant_id))));
  if (!answer) return fail(answer.error());
  std::vector<AggregateRow> rows;
  for (const auto& f : rows_of(*answer)) {
    if (f.size() != 5) return fail(Error::internal("unexpected aggregate answer from ClickHouse"));
    auto bucket = integer<std::int64_t>(f[1]);
    auto v = decimal(f[2]);
    auto events = integer<std::int64_t>(f[3]);
    if (!bucket || !v || !events) return fail(Error::internal("unexpected aggregate answer from ClickHouse"));
    rows.push_back({tsv_unescape(f[0]), q.by_quarter_hour ? from_unix_ms(*bucket * 1000) : q.from, *v,
                    *events, tsv_unescape(f[4])});
  }
  return rows;
}

Result<std::vector<RollupCheck>> ClickHouseUsageStore::check_rollups(int month, std::string_view tenant_id) {
  std::string tenant = tenant_id.empty() ? "" : " AND tenant_id = " + quote(tenant_id);
  auto sums = [&](const char* table, const char* time_column) {
    bool raw = std::string_view(table) == "usage_events";
    return fmt::format(
        "SELECT tenant_id, event_type, sum(quantity) AS q, {} AS n, {} AS c FROM {}.{} "
        "WHERE toYYYYMM({}) = {}{} GROUP BY tenant_id, event_type",
        raw ? signed_count() : "toInt64(sum(events))", raw ? "toInt64(countIf(cancels != ''))" : "toInt64(0)",
        db_, table, time_column, month, tenant);
  };
  // Three sums per (tenant, event type), and the raw side's retractions; a side without rows
  // reads as 0.
  auto answer = client_.query(fmt::format(
      "SELECT tenant_id, event_type, sumIf(q, s = 0), sumIf(n, s = 0), sumIf(q, s = 1), sumIf(n, s = 1), "
      "sumIf(q, s = 2), sumIf(n, s = 2), sum(c) FROM ("
      "SELECT tenant_id, event_type, q, n, c, 0 AS s FROM ({}) UNION ALL "
      "SELECT tenant_id, event_type, q, n, c, 1 AS s FROM ({}) UNION ALL "
      "SELECT tenant_id, event_type, q, n, c, 2 AS s FROM ({})) "
      "GROUP BY tenant_id, event_type ORDER BY tenant_id, event_type",
      sums("usage_events", "timestamp"), sums("usage_hourly", "bucket_start"),
      sums("usage_daily", "bucket_start")));
  if (!answer) return fail(answer.error());
  std::vector<RollupCheck> checks;
  for (const auto& f : rows_of(*answer)) {
    if (f.size() != 9) return fail(Error::internal("unexpected reconciliation answer from ClickHouse"));
    RollupCheck c{std::string(f[0]), std::string(f[1]), {}, {}, {}};
    RollupSum* sides[] = {&c.raw, &c.hourly, &c.daily};
    for (int i = 0; i < 3; ++i) {
      auto q = decimal(f[2 + 2 * i]);
      auto n = integer<std::int64_t>(f[3 + 2 * i]);
      if (!q || !n) return fail(Error::internal("unexpected reconciliation answer from ClickHouse"));
      *sides[i] = {*q, *n};
    }
    auto corrections = integer<std::int64_t>(f[8]);
    if (!corrections) return fail(Error::internal("unexpected reconciliation answer from ClickHouse"));
    c.corrections = *corrections;
    checks.push_back(std::move(c));
  }
  return checks;
}

Result<std::vector<int>> ClickHouseUsageStore::months() {
  // system.parts lists one node's parts; on a cluster the months come from the events themselves
  // (their time column only: the one scan retention makes).
  auto answer = client_.query(
      cluster_.empty()
          ? fmt::format("SELECT DISTINCT partition FROM system.parts WHERE database = {} AND table = "
                        "'usage_events' AND active ORDER BY partition",
                        quote(db_))
          : fmt::format("SELECT DISTINCT toYYYYMM(timestamp) AS month FROM {}.usage_events ORDER BY month",
                        db_));
  if (!answer) return fail(answer.error());
  std::vector<int> out;
  for (const auto& f : rows_of(*answer)) {
    auto m = integer<int>(f[0]);
    if (!m) return fail(m.error());
    out.push_back(*m);
  }
  return out;
}

Result<std::vector<std::string>> ClickHouseUsageStore::tenants(Timestamp from, Timestamp to) {
  // Days overlapping [from, to): a zone's month starts mid-UTC-day.
  auto answer = client_.query(
      fmt::format("SELECT DISTINCT tenant_id FROM {}.usage_daily WHERE bucket_start >= toDateTime({}, 'UTC') "
                  "AND bucket_start < toDateTime({}, 'UTC') ORDER BY tenant_id",
                  db_, unix_seconds(floor_to(Window::kDay, from)), unix_seconds(to)));
  if (!answer) return fail(answer.error());
  std::vector<std::string> out;
  for (const auto& f : rows_of(*answer)) out.emplace_back(f[0]);
  return out;
}

Status ClickHouseUsageStore::drop_month(int month) {
  for (const char* table : {"usage_events", "usage_hourly", "usage_daily"}) {
    // A Distributed table has no partitions: each node drops them from its local table.
    std::string sql = cluster_.empty()
                          ? fmt::format("ALTER TABLE {}.{} DROP PARTITION {}", db_, table, month)
                          : fmt::format("ALTER TABLE {}.{}_local ON CLUSTER {} DROP PARTITION {}", db_, table,
                                        cluster_, month);
    if (auto s = client_.query(sql); !s) return fail(s.error());
  }
  return {};
}

Status ClickHouseUsageStore::mirror_quota(std::string_view tenant_id, const quota::TenantQuota& q) {
  using quota::Meter;
  auto s = client_.query(
      fmt::format("INSERT INTO {}.tenant_quotas (tenant_id, time_zone, enforcement, queries_per_day, "
                  "tokens_per_day, storage_gb, "
                  "queries_per_month, tokens_per_month, storage_gb_per_month, updated_at) VALUES ({}, {}, "
                  "{}, {}, {}, {}, {}, {}, "
                  "{}, now())",
                  db_, quote(tenant_id), quote(q.time_zone), quote(quota::enforcement_name(q.enforcement)),
                  nullable(q[Meter::kQueries].per_day), nullable(q[Meter::kTokens].per_day),
                  nullable(q[Meter::kStorageGb].per_day), nullable(q[Meter::kQueries].per_month),
                  nullable(q[Meter::kTokens].per_month), nullable(q[Meter::kStorageGb].per_month)));
  if (!s) return fail(s.error());
  return {};
}

}  // namespace meter::store::clickhouse

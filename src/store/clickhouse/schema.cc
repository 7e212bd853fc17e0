#include "store/clickhouse/schema.h"

#include <fmt/format.h>

#include <charconv>

#include "store/clickhouse/clickhouse_usage_store.h"

namespace meter::store::clickhouse {
namespace {

std::string replace_all(std::string sql, std::string_view name, const std::string& value) {
  for (std::size_t at = sql.find(name); at != std::string::npos; at = sql.find(name, at)) {
    sql.replace(at, name.size(), value);
    at += value.size();
  }
  return sql;
}

std::string with_names(std::string sql, const std::string& database, const std::string& cluster = {}) {
  return replace_all(replace_all(std::move(sql), "{db}", database), "{cluster}", cluster);
}

// Retractions (docs/corrections.md) name the event they cancel; empty for usage events.
constexpr const char* kAddCancelsColumn = " ADD COLUMN cancels String DEFAULT ''";
const std::string kAddCancels = std::string("ALTER TABLE {db}.usage_events") + kAddCancelsColumn;

// The columns of each table, shared by both layouts.
constexpr const char* kEventColumns =
    "(id String, tenant_id String, event_type String, quantity Decimal(38, 12),"
    " timestamp DateTime('UTC'), timestamp_ms UInt16, received_at DateTime('UTC'),"
    " metadata String, batch_id String)";
constexpr const char* kRollupColumns =
    "(tenant_id String, bucket_start DateTime('UTC'), event_type String,"
    " quantity Decimal(38, 12), events UInt64)";
constexpr const char* kQuotaColumns =
    "(tenant_id String, time_zone String, enforcement String,"
    " queries_per_day Nullable(Decimal(38, 12)), tokens_per_day Nullable(Decimal(38, 12)),"
    " storage_gb Nullable(Decimal(38, 12)), queries_per_month Nullable(Decimal(38, 12)),"
    " tokens_per_month Nullable(Decimal(38, 12)), storage_gb_per_month Nullable(Decimal(38, 12)),"
    " updated_at DateTime('UTC'))";

// `events`: how a row counts (version 2 on: a retraction counts -1, docs/corrections.md; the
// UInt64 column then sums modulo 2^64, which is exact while a bucket's count is not negative).
std::string rollup_view(const std::string& name, const std::string& bucket_expr,
                        const std::string& events = "count()") {
  return "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}." + name + "_mv TO {db}." + name +
         " AS SELECT tenant_id, " + bucket_expr +
         " AS bucket_start, event_type, sum(quantity) AS quantity, " + events +
         " AS events"
         " FROM {db}.usage_events GROUP BY tenant_id, bucket_start, event_type";
}

// A cluster's rollups carry the batch id of the shipment that made each block. Replicated tables
// drop a block whose rows equal one they have: two shipments can roll up to the very same rows
// (one query of quantity 1 from a tenant in the same hour), and without the batch id the second
// would be dropped as a duplicate. With it, only a resend of the same shipment is.
constexpr const char* kClusterRollupColumns =
    "(tenant_id String, bucket_start DateTime('UTC'), event_type String,"
    " quantity Decimal(38, 12), events UInt64, batch_id String)";

// Hourly and daily rollups: a SummingMergeTree table fed by a materialized view on
// usage_events, so every insert updates both. Rows of the same key are summed when parts
// merge; readers still GROUP BY, because merging happens in the background.
std::vector<std::string> rollup(const std::string& name, const std::string& bucket_expr) {
  return {
      "CREATE TABLE IF NOT EXISTS {db}." + name + " " + kRollupColumns +
          " ENGINE = SummingMergeTree PARTITION BY toYYYYMM(bucket_start)"
          " ORDER BY (tenant_id, bucket_start, event_type)",
      rollup_view(name, bucket_expr),
  };
}

// A cluster's table: NAME_local, replicated within its shard, and NAME, Distributed over them.
std::vector<std::string> sharded(const std::string& name, const std::string& columns,
                                 const std::string& engine, const std::string& engine_args,
                                 const std::string& layout) {
  return {
      "CREATE TABLE IF NOT EXISTS {db}." + name + "_local ON CLUSTER {cluster} " + columns +
          " ENGINE = Replicated" + engine + "('/clickhouse/tables/{shard}/{db}/" + name + "', '{replica}'" +
          engine_args + ") " + layout,
      "CREATE TABLE IF NOT EXISTS {db}." + name + " ON CLUSTER {cluster} AS {db}." + name +
          "_local ENGINE = Distributed({cluster}, {db}, " + name + "_local, sipHash64(tenant_id))",
  };
}

std::vector<Migration> single_server_migrations() {
  std::vector<Migration> m;
  Migration v1{1, "usage_events, usage_hourly, usage_daily, tenant_quotas", {}};
  // Raw events, one partition per UTC month; batch_id says which shipment brought a row,
  // so a shipment interrupted by a crash can be checked before it is sent again.
  v1.statements.push_back(std::string("CREATE TABLE IF NOT EXISTS {db}.usage_events ") + kEventColumns +
                          " ENGINE = MergeTree PARTITION BY toYYYYMM(timestamp)"
                          " ORDER BY (tenant_id, event_type, timestamp)");
  for (auto& s : rollup("usage_hourly", "toStartOfHour(timestamp)")) v1.statements.push_back(std::move(s));
  for (auto& s : rollup("usage_daily", "toStartOfDay(timestamp)")) v1.statements.push_back(std::move(s));
  // Quota settings, newest row per tenant wins (ReplacingMergeTree by updated_at).
  v1.statements.push_back(std::string("CREATE TABLE IF NOT EXISTS {db}.tenant_quotas ") + kQuotaColumns +
                          " ENGINE = ReplacingMergeTree(updated_at) ORDER BY tenant_id");
  m.push_back(std::move(v1));
  Migration v2{2, "retractions: usage_events.cancels, views counting them -1", {}};
  v2.statements.push_back(kAddCancels);
  for (auto [name, bucket] : {std::pair{"usage_hourly", "toStartOfHour(timestamp)"},
                              std::pair{"usage_daily", "toStartOfDay(timestamp)"}}) {
    v2.statements.push_back(std::string("DROP TABLE IF EXISTS {db}.") + name + "_mv");
    v2.statements.push_back(rollup_view(name, bucket, std::string("toUInt64(") + kSignedCount + ")"));
  }
  m.push_back(std::move(v2));
  return m;
}

// The same tables on a cluster. meterd inserts the rollups itself (ClickHouseUsageStore::
// insert_rollups), so that a resent block is dropped by ReplicatedMergeTree's block
// deduplication in the raw table and, with the same rows and batch id, in the rollups.
std::vector<Migration> cluster_migrations() {
  std::vector<Migration> m;
  Migration v1{1, "usage_events, usage_hourly, usage_daily, tenant_quotas", {}};
  auto add = [&](std::vector<std::string> statements) {
    for (auto& s : statements) v1.statements.push_back(std::move(s));
  };
  add(sharded("usage_events", kEventColumns, "MergeTree", "",
              "PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant_id, event_type, timestamp)"));
  for (const char* name : {"usage_hourly", "usage_daily"}) {
    add(sharded(name, kClusterRollupColumns, "SummingMergeTree", ", (quantity, events)",
                "PARTITION BY toYYYYMM(bucket_start) ORDER BY (tenant_id, bucket_start, event_type)"));
  }
  add(sharded("tenant_quotas", kQuotaColumns, "ReplacingMergeTree", ", updated_at", "ORDER BY tenant_id"));
  m.push_back(std::move(v1));
  // Version 1 once fed the rollups from views on the local raw tables.
  m.push_back({2,
               "rollups inserted by meterd, not by views",
               {"DROP TABLE IF EXISTS {db}.usage_hourly_mv ON CLUSTER {cluster}",
                "DROP TABLE IF EXISTS {db}.usage_daily_mv ON CLUSTER {cluster}"}});
  // 18.16 runs ALTER ... ON CLUSTER only on replicated tables: the Distributed table is made
  // again over the altered local ones.
  m.push_back({3,
               "retractions: usage_events.cancels (docs/corrections.md)",
               {std::string("ALTER TABLE {db}.usage_events_local ON CLUSTER {cluster}") + kAddCancelsColumn,
                "DROP TABLE IF EXISTS {db}.usage_events ON CLUSTER {cluster}",
                sharded("usage_events", kEventColumns, "MergeTree", "", "").back()}});
  return m;
}

}  // namespace

const std::vector<Migration>& migrations(bool cluster) {
  static const std::vector<Migration> single = single_server_migrations();
  static const std::vector<Migration> replicated = cluster_migrations();
  return cluster ? replicated : single;
}

Result<int> schema_version(Client& client, const std::string& database) {
  auto exists = client.query(fmt::format("EXISTS TABLE {}.meter_schema", database));
  if (!exists) {
    // The database itself may be missing: that is version 0 too.
    auto db =
        client.query(fmt::format("SELECT count() FROM system.databases WHERE name = {}", quote(database)));
    if (db && db->starts_with("0")) return 0;
    return fail(exists.error());
  }
  if (exists->starts_with("0")) return 0;
  auto answer = client.query(fmt::format("SELECT max(version) FROM {}.meter_schema", database));
  if (!answer) return fail(answer.error());
  int version = 0;
  std::from_chars(answer->data(), answer->data() + answer->size(), version);
  return version;
}

namespace {

// The engine of the existing usage_events ("" when there is none).
Result<std::string> events_engine(Client& client, const std::string& database) {
  auto answer = client.query(fmt::format(
      "SELECT engine FROM system.tables WHERE database = {} AND name = 'usage_events'", quote(database)));
  if (!answer) return fail(answer.error());
  while (!answer->empty() && answer->back() == '\n') answer->pop_back();
  return *answer;
}

}  // namespace

Result<MigrateReport> migrate(Client& client, const std::string& database, const std::string& cluster) {
  bool sharded = !cluster.empty();
  std::string on_cluster = sharded ? " ON CLUSTER " + cluster : "";
  auto engine = events_engine(client, database);
  if (!engine) return fail(engine.error());
  if (!engine->empty() && (*engine == "Distributed") != sharded) {
    return fail(Error::invalid(
        "clickhouse.cluster",
        sharded ? fmt::format("database {} was made for one server (usage_events is {}), not for cluster {}; "
                              "use another database for the cluster (clickhouse.database)",
                              database, *engine, cluster)
                : fmt::format("database {} was made for a cluster (usage_events is Distributed); set "
                              "clickhouse.cluster (CLICKHOUSE_CLUSTER) to its cluster's name",
                              database)));
  }
  // Up to date: no DDL at all. (ON CLUSTER waits for every node, so a node that is down would
  // hold up a start that has nothing to change.)
  auto current = schema_version(client, database);
  if (current && *current >= migrations(sharded).back().version) {
    return MigrateReport{*current, *current, {}};
  }
  if (auto s = client.query("CREATE DATABASE IF NOT EXISTS " + database + on_cluster); !s)
    return fail(s.error());
  // The version table: one row per step; on a cluster, one replication group over every node
  // (the {replica} macro is unique in the cluster), so a step is recorded once for all.
  std::string version_table =
      sharded
          ? "CREATE TABLE IF NOT EXISTS {db}.meter_schema ON CLUSTER {cluster} (version UInt32, description "
            "String, applied_at DateTime('UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/meterd/{db}/"
            "meter_schema', '{replica}') ORDER BY version"
          : "CREATE TABLE IF NOT EXISTS {db}.meter_schema (version UInt32, description String,"
            " applied_at DateTime('UTC')) ENGINE = TinyLog";
  if (auto s = client.query(with_names(version_table, database, cluster)); !s) return fail(s.error());
  current = schema_version(client, database);
  if (!current) return fail(current.error());
  MigrateReport report{*current, *current, {}};
  for (const Migration& m : migrations(sharded)) {
    if (m.version <= *current) continue;
    for (const std::string& sql : m.statements) {
      if (auto s = client.query(with_names(sql, database, cluster)); !s) {
        return fail(Error::unavailable(
            fmt::format("migration {} ({}) failed: {}", m.version, m.description, s.error().message)));
      }
    }
    if (auto s = client.query(fmt::format("INSERT INTO {}.meter_schema VALUES ({}, {}, now())", database,
                                          m.version, quote(m.description)));
        !s) {
      return fail(s.error());
    }
    report.to_version = m.version;
    report.applied.push_back(fmt::format("{}: {}", m.version, m.description));
  }
  return report;
}

}  // namespace meter::store::clickhouse

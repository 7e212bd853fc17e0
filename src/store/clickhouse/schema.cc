#include "store/clickhouse/schema.h"

#include <fmt/format.h>

#include <charconv>

namespace meter::store::clickhouse {
namespace {

std::string with_database(std::string sql, const std::string& database) {
  for (std::size_t at = sql.find("{db}"); at != std::string::npos; at = sql.find("{db}", at)) {
    sql.replace(at, 4, database);
    at += database.size();
  }
  return sql;
}

// Hourly and daily rollups: a SummingMergeTree table fed by a materialized view on
// usage_events, so every insert updates both. Rows of the same key are summed when parts
// merge; readers still GROUP BY, because merging happens in the background.
std::vector<std::string> rollup(const std::string& name, const std::string& bucket_expr) {
  return {
      "CREATE TABLE IF NOT EXISTS {db}." + name +
          " (tenant_id String, bucket_start DateTime('UTC'), event_type String,"
          " quantity Decimal(38, 12), events UInt64)"
          " ENGINE = SummingMergeTree PARTITION BY toYYYYMM(bucket_start)"
          " ORDER BY (tenant_id, bucket_start, event_type)",
      "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}." + name + "_mv TO {db}." + name +
          " AS SELECT tenant_id, " + bucket_expr +
          " AS bucket_start, event_type,"
          " sum(quantity) AS quantity, count() AS events FROM {db}.usage_events"
          " GROUP BY tenant_id, bucket_start, event_type",
  };
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = [] {
    std::vector<Migration> m;
    Migration v1{1, "usage_events, usage_hourly, usage_daily, tenant_quotas", {}};
    // Raw events, one partition per UTC month; batch_id says which shipment brought a row,
    // so a shipment interrupted by a crash can be checked before it is sent again.
    v1.statements.push_back(
        "CREATE TABLE IF NOT EXISTS {db}.usage_events ("
        " id String, tenant_id String, event_type String, quantity Decimal(38, 12),"
        " timestamp DateTime('UTC'), timestamp_ms UInt16, received_at DateTime('UTC'),"
        " metadata String, batch_id String)"
        " ENGINE = MergeTree PARTITION BY toYYYYMM(timestamp)"
        " ORDER BY (tenant_id, event_type, timestamp)");
    for (auto& s : rollup("usage_hourly", "toStartOfHour(timestamp)")) v1.statements.push_back(std::move(s));
    for (auto& s : rollup("usage_daily", "toStartOfDay(timestamp)")) v1.statements.push_back(std::move(s));
    // Quota settings, newest row per tenant wins (ReplacingMergeTree by updated_at).
    v1.statements.push_back(
        "CREATE TABLE IF NOT EXISTS {db}.tenant_quotas ("
        " tenant_id String, time_zone String, enforcement String,"
        " queries_per_day Nullable(Decimal(38, 12)), tokens_per_day Nullable(Decimal(38, 12)),"
        " storage_gb Nullable(Decimal(38, 12)), queries_per_month Nullable(Decimal(38, 12)),"
        " tokens_per_month Nullable(Decimal(38, 12)), storage_gb_per_month Nullable(Decimal(38, 12)),"
        " updated_at DateTime('UTC'))"
        " ENGINE = ReplacingMergeTree(updated_at) ORDER BY tenant_id");
    m.push_back(std::move(v1));
    return m;
  }();
  return all;
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

Result<MigrateReport> migrate(Client& client, const std::string& database) {
  if (auto s = client.query("CREATE DATABASE IF NOT EXISTS " + database); !s) return fail(s.error());
  if (auto s = client.query(
          with_database("CREATE TABLE IF NOT EXISTS {db}.meter_schema (version UInt32, description String,"
                        " applied_at DateTime('UTC')) ENGINE = TinyLog",
                        database));
      !s) {
    return fail(s.error());
  }
  auto current = schema_version(client, database);
  if (!current) return fail(current.error());
  MigrateReport report{*current, *current, {}};
  for (const Migration& m : migrations()) {
    if (m.version <= *current) continue;
    for (const std::string& sql : m.statements) {
      if (auto s = client.query(with_database(sql, database)); !s) {
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

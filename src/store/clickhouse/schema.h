#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "store/clickhouse/client.h"

namespace meter::store::clickhouse {

// One step of the ClickHouse schema. Steps are applied in order, once each; which ones ran is
// recorded in DATABASE.meter_schema. The SQL runs on ClickHouse 18.16 (Debian) and on current
// releases: DateTime('UTC') (no DateTime64), no TTL, no LowCardinality.
struct Migration {
  int version;
  std::string description;
  std::vector<std::string> statements;  // "{db}" stands for the database name, "{cluster}" the cluster's
};

// One server: MergeTree tables. A cluster (remote_servers): each table's rows in a Replicated*
// table `NAME_local` on every node, ZooKeeper path /clickhouse/tables/{shard}/DB/NAME, and a
// Distributed table `NAME` over them sharded by sipHash64(tenant_id), so one tenant's events and
// rollups live on one shard; readers and writers use `NAME` either way. Same versions.
const std::vector<Migration>& migrations(bool cluster = false);

struct MigrateReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // descriptions, oldest first
};

// Creates the database if needed and applies the migrations it has not seen. Idempotent: a
// second run applies nothing. Every statement is IF NOT EXISTS, so a step cut short by a
// crash is simply run again. With a cluster, every statement runs ON CLUSTER (on every node,
// through ZooKeeper) and the version table is replicated to all nodes. Refuses a database made
// for a single server when asked for a cluster, and the reverse.
Result<MigrateReport> migrate(Client& client, const std::string& database, const std::string& cluster = {});

// The schema version the database has (0 = none), without changing anything.
Result<int> schema_version(Client& client, const std::string& database);

}  // namespace meter::store::clickhouse

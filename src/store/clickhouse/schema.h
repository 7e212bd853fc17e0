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
  std::vector<std::string> statements;  // "{db}" stands for the database name
};

const std::vector<Migration>& migrations();

struct MigrateReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // descriptions, oldest first
};

// Creates the database if needed and applies the migrations it has not seen. Idempotent: a
// second run applies nothing. Every statement is IF NOT EXISTS, so a step cut short by a
// crash is simply run again.
Result<MigrateReport> migrate(Client& client, const std::string& database);

// The schema version the database has (0 = none), without changing anything.
Result<int> schema_version(Client& client, const std::string& database);

}  // namespace meter::store::clickhouse

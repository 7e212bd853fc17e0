#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "store/postgres/connection.h"

namespace meter::store::postgres {

// The schema version this build writes; docs/postgresql.md shows the tables.
inline constexpr int kSchemaVersion = 4;

// A raw row's part in an event count: a retraction (docs/corrections.md) counts -1.
inline constexpr const char* kSignedCount = "sum(CASE WHEN cancels IS NULL THEN 1 ELSE -1 END)";
// What keeps only the live rows of tenant $1 with ts in [$2, $3): neither a retraction nor an
// event one withdraws (retractions carry their event's timestamp, so they are in the range).
inline constexpr const char* kLiveRows =
    " AND cancels IS NULL AND id NOT IN (SELECT cancels FROM usage_events WHERE tenant_id = $1 AND ts >= $2 "
    "AND ts < $3 AND cancels IS NOT NULL)";

struct MigrationReport {
  int from_version = 0;  // 0: the database was empty
  int to_version = 0;
};

// Creates or upgrades meterd's tables in one transaction under an advisory lock, so several
// nodes starting at once migrate once and the others wait, then find it done. Idempotent. Fails
// (changing nothing) when the database was written by a newer meterd.
Result<MigrationReport> migrate(Connection& db);

// The advisory lock key under which DDL runs (migrations, new monthly partitions).
inline constexpr long long kDdlLock = 0x6d65746572640001;  // "meterd" 1

// The session advisory lock the node that ships to ClickHouse holds (ship_log.h).
inline constexpr long long kShipLock = 0x6d65746572640002;  // "meterd" 2

// The raw-event partition for the UTC month YYYYMM exists afterwards (created under kDdlLock).
Status ensure_partition(Connection& db, int month);

// The months (YYYYMM) that have a raw-event partition, oldest first.
Result<std::vector<int>> partitions(Connection& db);

}  // namespace meter::store::postgres

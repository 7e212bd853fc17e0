#pragma once

#include <memory>
#include <optional>

#include "config/config.h"
#include "core/clock.h"
#include "ingest/shipper.h"
#include "store/clickhouse/clickhouse_backed_store.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::cli {

// The ClickHouse side: a client for queries, one for shipping (so that a large insert never
// holds up a usage query), the store that answers from ClickHouse, and the shipper.
struct ClickHouse {
  ClickHouse(const config::Config& c, store::sqlite::SqliteStore& local, Clock& clock);

  store::clickhouse::Client client;
  store::clickhouse::Client ship_client;
  store::clickhouse::ClickHouseStore remote;
  store::clickhouse::ClickHouseStore ship_remote;
  store::clickhouse::ClickHouseBackedStore store;
  ingest::Shipper shipper;
};

// The stores the configuration asks for: always the embedded one (DATA_DIR/meterd.db: the
// whole store, or with ClickHouse the durable log events wait in), plus ClickHouse when
// clickhouse.host is set and OFFLINE is not.
struct Stores {
  std::unique_ptr<store::sqlite::SqliteStore> local;
  std::unique_ptr<ClickHouse> clickhouse;

  store::Store& store() { return clickhouse ? static_cast<store::Store&>(clickhouse->store) : *local; }
};

// Opens them, logging why and returning nullopt when the embedded store cannot be opened.
// ClickHouse being down is not an error here: its schema is created once it answers.
std::optional<Stores> open_stores(const config::Config& c, Clock& clock);

}  // namespace meter::cli

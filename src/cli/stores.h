#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "auth/key_store.h"
#include "config/config.h"
#include "core/clock.h"
#include "ingest/shipper.h"
#include "quota/quota_book.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/ship_log.h"
#include "store/sqlite/data_dir_lock.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::cli {

// The ClickHouse side: a client for queries, one for shipping (so that a large insert never
// holds up a usage query), the usage store that answers from ClickHouse, and the shipper.
struct ClickHouse {
  // `log`: where the shipper reads (the embedded store, or PostgreSQL's outbox).
  ClickHouse(const config::Config& c, store::ShipLog& log, Clock& clock);

  store::clickhouse::Client client;
  store::clickhouse::Client ship_client;
  store::clickhouse::ClickHouseUsageStore usage;
  store::clickhouse::ClickHouseUsageStore ship_target;
  ingest::Shipper shipper;
};

// How a command uses the data folder. Only the commands that start a store may create one: a
// billing command pointed at the wrong folder must say so, never print a confident $0. Those
// that write hold the folder's lock (store/sqlite/data_dir_lock.h) while they run.
enum class StoreUse {
  kServe,   // creates the store if missing, holds the lock; ClickHouse's schema left to the shipper
  kCreate,  // migrate, demo: creates it if missing, holds the lock
  kRead,    // invoices, billing runs, reconcile, retention: the store must exist; no lock, as a
            // server may run (retention drops only whole months older than any it writes)
};

// The stores the configuration asks for: the embedded one (DATA_DIR/meterd.db: the event log
// and the tenant records, and usage unless ClickHouse answers it), or instead PostgreSQL when
// store.url is set (shared by several nodes); plus ClickHouse when clickhouse.host is set and
// OFFLINE is not (shipped from the embedded log, or from PostgreSQL's outbox by one node at a
// time).
struct Stores {
  std::optional<store::sqlite::DataDirLock> lock;  // kept first: released after the stores close
  std::unique_ptr<store::sqlite::SqliteStore> local;
  std::unique_ptr<store::postgres::PgStore> shared;
  std::unique_ptr<store::postgres::PgShipLog> shared_ship_log;  // with shared and ClickHouse
  std::unique_ptr<ClickHouse> clickhouse;

  store::EventLog& log() { return shared ? static_cast<store::EventLog&>(*shared) : *local; }
  store::TenantRecords& records() { return shared ? static_cast<store::TenantRecords&>(*shared) : *local; }
  // The usage of what log() holds (with ClickHouse, including what is not shipped yet).
  store::UsageStore& log_usage() { return shared ? static_cast<store::UsageStore&>(*shared) : *local; }
  store::CreditLedger& credit_ledger() {
    return shared ? static_cast<store::CreditLedger&>(*shared) : *local;
  }
  store::UsageStore& usage() {
    return clickhouse ? static_cast<store::UsageStore&>(clickhouse->usage) : log_usage();
  }
  // Where retention drops months: the usage store, and the log too when they differ.
  std::vector<store::UsageStore*> retained() {
    if (!clickhouse) return {&log_usage()};
    return {&clickhouse->usage, &log_usage()};
  }
};

// Opens them, logging why and returning nullopt when the embedded store cannot be opened (or
// does not exist, or another process holds the folder). ClickHouse being down is not an error
// here: its schema is created once it answers; except for kServe, the schema is checked now.
std::optional<Stores> open_stores(const config::Config& c, Clock& clock, StoreUse use);

// Where API keys are kept: PostgreSQL with store.url (every node shares them), else
// DATA_DIR/keys.db. Its name for messages, and the flag that points a `meterd keys` command at it.
Result<std::unique_ptr<auth::KeyStore>> open_key_store(const config::Config& c);
std::string key_store_name(const config::Config& c);
std::string key_store_flag(const config::Config& c);

// Every tenant's quota settings from the records into the book; a tenant whose zone this build
// does not know keeps the defaults' (logged).
Status load_quota_settings(store::TenantRecords& records, quota::QuotaBook& book);
// The same for settings already read (e.g. those changed through other nodes).
void apply_quota_settings(const std::vector<std::pair<std::string, store::TenantSettings>>& tenants,
                          quota::QuotaBook& book);

}  // namespace meter::cli

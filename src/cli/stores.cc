#include "cli/stores.h"

#include <spdlog/spdlog.h>

#include "auth/sqlite_key_store.h"
#include "store/clickhouse/schema.h"
#include "store/postgres/key_store.h"

namespace meter::cli {
namespace {

// On a cluster, inserts and reads go to the first live replica of each shard in remote_servers'
// order, so a read sees what was just shipped (replication to the others is asynchronous); never
// to a replica more than a second behind (one just back, still fetching), and rather an error
// than a stale answer when no replica of a shard is current (an invoice must not miss events).
constexpr const char* kClusterReadSettings =
    "load_balancing=in_order&max_replica_delay_for_distributed_queries=1&"
    "fallback_to_stale_replicas_for_distributed_queries=0";

store::clickhouse::ClientOptions client_options(const config::Config& c) {
  return {store::clickhouse::clickhouse_url(c.clickhouse_host, c.clickhouse_port), c.clickhouse_user,
          c.clickhouse_password, c.clickhouse_timeout,
          c.clickhouse_cluster.empty() ? "" : kClusterReadSettings};
}

// Shipments are not cut off at clickhouse.timeout_seconds (see ShipperOptions::abandon_after).
store::clickhouse::ClientOptions ship_client_options(const config::Config& c) {
  auto o = client_options(c);
  o.timeout = ingest::ShipperOptions{}.abandon_after;
  return o;
}

ingest::ShipperOptions shipper_options(const config::Config& c, store::clickhouse::Client& client) {
  ingest::ShipperOptions o;
  o.batch_size = c.buffer_size;
  o.catch_up_size = c.catch_up_size;
  o.flush_interval = c.flush_interval;
  o.timeout = c.clickhouse_timeout;
  o.prepare = [&client, db = c.clickhouse_database, cluster = c.clickhouse_cluster]() -> Status {
    auto m = store::clickhouse::migrate(client, db, cluster);
    if (!m) return fail(m.error());
    if (!m->applied.empty()) {
      spdlog::info("ClickHouse schema of {} migrated from version {} to {}", db, m->from_version,
                   m->to_version);
    }
    return {};
  };
  return o;
}

}  // namespace

ClickHouse::ClickHouse(const config::Config& c, store::ShipLog& log, Clock& clock)
    : client(client_options(c)),
      ship_client(ship_client_options(c)),
      usage(client, c.clickhouse_database, c.clickhouse_cluster),
      ship_target(ship_client, c.clickhouse_database, c.clickhouse_cluster),
      shipper(log, ship_target, clock, shipper_options(c, ship_client)) {}

namespace {

void check_clickhouse_schema(Stores& stores, StoreUse use) {
  if (use == StoreUse::kServe) return;  // the shipper creates it once ClickHouse answers
  // Not fatal when ClickHouse is down: events are acknowledged into the log and wait there; the
  // shipper creates the schema first thing once ClickHouse answers.
  if (auto s = stores.clickhouse->shipper.prepare(); !s) {
    spdlog::warn("ClickHouse schema not checked: {}; events wait in the log, shipping retries",
                 s.error().message);
  }
}

// PostgreSQL instead of the embedded store: the node keeps nothing in the data folder, so it
// takes no lock there (any number of nodes may run on one machine).
std::optional<Stores> open_shared(const config::Config& c, Clock& clock, StoreUse use) {
  Stores stores;
  auto shared = store::postgres::PgStore::open(
      {c.store_url, c.store_timeout, &clock, std::chrono::days(c.dedupe_window_days)});
  if (!shared) {
    spdlog::critical("cannot open the PostgreSQL store (store.url, METERD_DATABASE_URL): {}",
                     shared.error().message);
    return std::nullopt;
  }
  stores.shared = std::move(*shared);
  if (c.clickhouse_host.empty() || c.offline) return stores;
  store::postgres::ShipLogOptions ship;
  ship.url = c.store_url;
  ship.timeout = c.store_timeout;
  ship.turn_on = use == StoreUse::kServe;  // a billing command only reads ClickHouse
  auto ship_log = store::postgres::PgShipLog::open(std::move(ship));
  if (!ship_log) {
    spdlog::critical("cannot open the PostgreSQL outbox to ClickHouse: {}", ship_log.error().message);
    return std::nullopt;
  }
  stores.shared_ship_log = std::move(*ship_log);
  stores.clickhouse = std::make_unique<ClickHouse>(c, *stores.shared_ship_log, clock);
  check_clickhouse_schema(stores, use);
  return stores;
}

}  // namespace

std::optional<Stores> open_stores(const config::Config& c, Clock& clock, StoreUse use) {
  if (!c.store_url.empty()) return open_shared(c, clock, use);
  Stores stores;
  std::filesystem::path db_path = c.data_dir / "meterd.db";
  bool may_create = use == StoreUse::kServe || use == StoreUse::kCreate;
  std::error_code ec;
  if (!may_create && !std::filesystem::exists(db_path, ec)) {
    spdlog::critical(
        "no meterd store at {}: point at the folder `meterd serve` uses with --data-dir DIR or "
        "METERD_DATA_DIR (now {})",
        db_path.string(), c.data_dir.string());
    return std::nullopt;
  }
  if (use != StoreUse::kRead) {
    std::filesystem::create_directories(c.data_dir, ec);
    auto lock = store::sqlite::DataDirLock::acquire(c.data_dir);
    if (!lock) {
      spdlog::critical("{}", lock.error().message);
      return std::nullopt;
    }
    stores.lock.emplace(std::move(*lock));
  }
  try {
    store::sqlite::SqliteOptions options{db_path};
    options.clock = &clock;
    stores.local = std::make_unique<store::sqlite::SqliteStore>(std::move(options));
  } catch (const std::exception& e) {
    spdlog::critical("cannot open the embedded store {}: {}", db_path.string(), e.what());
    return std::nullopt;
  }
  if (c.clickhouse_host.empty()) return stores;
  if (c.offline) {
    spdlog::warn(
        "OFFLINE=true: ClickHouse at {} is configured but not used; events stay in the embedded store",
        c.clickhouse_host);
    return stores;
  }
  stores.clickhouse = std::make_unique<ClickHouse>(c, *stores.local, clock);
  check_clickhouse_schema(stores, use);
  return stores;
}

Result<std::unique_ptr<auth::KeyStore>> open_key_store(const config::Config& c) {
  if (!c.store_url.empty()) {
    return std::unique_ptr<auth::KeyStore>(
        std::make_unique<store::postgres::PgKeyStore>(c.store_url, c.store_timeout));
  }
  try {
    return std::unique_ptr<auth::KeyStore>(std::make_unique<auth::SqliteKeyStore>(c.data_dir / "keys.db"));
  } catch (const std::exception& e) {
    return fail(Error::unavailable("cannot open " + (c.data_dir / "keys.db").string() + ": " + e.what()));
  }
}

std::string key_store_name(const config::Config& c) {
  return c.store_url.empty() ? (c.data_dir / "keys.db").string() : std::string("PostgreSQL (store.url)");
}

std::string key_store_flag(const config::Config& c) {
  return c.store_url.empty() ? "--data-dir " + c.data_dir.string() : std::string("--store URL");
}

void apply_quota_settings(const std::vector<std::pair<std::string, store::TenantSettings>>& tenants,
                          quota::QuotaBook& book) {
  for (const auto& [tenant, settings] : tenants) {
    if (!settings.quota) continue;  // a plan alone: read from the store when it is used
    if (auto s = book.set(tenant, *settings.quota); !s) {
      spdlog::warn("tenant {}: {}; using the default quota settings", tenant, s.error().message);
    }
  }
}

Status load_quota_settings(store::TenantRecords& records, quota::QuotaBook& book) {
  auto tenants = records.list_settings();
  if (!tenants) return fail(tenants.error());
  apply_quota_settings(*tenants, book);
  return {};
}

}  // namespace meter::cli

#include "cli/stores.h"

#include <spdlog/spdlog.h>

#include "store/clickhouse/schema.h"

namespace meter::cli {
namespace {

store::clickhouse::ClientOptions client_options(const config::Config& c) {
  return {store::clickhouse::clickhouse_url(c.clickhouse_host, c.clickhouse_port), c.clickhouse_user,
          c.clickhouse_password, c.clickhouse_timeout};
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
  o.flush_interval = c.flush_interval;
  o.timeout = c.clickhouse_timeout;
  o.prepare = [&client, db = c.clickhouse_database]() -> Status {
    auto m = store::clickhouse::migrate(client, db);
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

ClickHouse::ClickHouse(const config::Config& c, store::sqlite::SqliteStore& local, Clock& clock)
    : client(client_options(c)),
      ship_client(ship_client_options(c)),
      usage(client, c.clickhouse_database),
      ship_target(ship_client, c.clickhouse_database),
      shipper(local, ship_target, clock, shipper_options(c, ship_client)) {}

std::optional<Stores> open_stores(const config::Config& c, Clock& clock, StoreUse use) {
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
  if (use == StoreUse::kServe) return stores;
  // Not fatal when ClickHouse is down: events are acknowledged into the local log and wait
  // there; the shipper creates the schema first thing once ClickHouse answers.
  if (auto s = stores.clickhouse->shipper.prepare(); !s) {
    spdlog::warn("ClickHouse schema not checked: {}; events wait in the local log, shipping retries",
                 s.error().message);
  }
  return stores;
}

Status load_quota_settings(store::TenantRecords& records, quota::QuotaBook& book) {
  auto tenants = records.list_settings();
  if (!tenants) return fail(tenants.error());
  for (const auto& [tenant, settings] : *tenants) {
    if (!settings.quota) continue;
    if (auto s = book.set(tenant, *settings.quota); !s) {
      spdlog::warn("tenant {}: {}; using the default quota settings", tenant, s.error().message);
    }
  }
  return {};
}

}  // namespace meter::cli

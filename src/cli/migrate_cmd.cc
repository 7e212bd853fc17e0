// `meterd migrate`: creates or upgrades the schemas (the embedded store, or PostgreSQL with
// store.url; and ClickHouse when configured) and says what it did. Safe to run again (from
// several nodes at once, too): it then changes nothing.
#include <cstdio>

#include "cli/commands.h"
#include "store/clickhouse/schema.h"
#include "store/postgres/schema.h"
#include "store/sqlite/data_dir_lock.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::cli {

namespace {

int migrate_postgres(const config::Config& c) {
  auto db = store::postgres::Connection::open(c.store_url, c.store_timeout);
  if (!db) {
    std::fprintf(stderr, "meterd migrate: %s (store.url, METERD_DATABASE_URL)\n", db.error().message.c_str());
    return 1;
  }
  auto report = store::postgres::migrate(**db);
  if (!report) {
    std::fprintf(stderr, "meterd migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  if (report->from_version == report->to_version) {
    std::printf("PostgreSQL: schema version %d, up to date\n", report->to_version);
  } else {
    std::printf("PostgreSQL: schema migrated from version %d to %d\n", report->from_version,
                report->to_version);
  }
  return 0;
}

}  // namespace

int run_migrate(const config::LoadedConfig& loaded) {
  const config::Config& c = loaded.config;
  if (!c.store_url.empty()) return migrate_postgres(c);
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  auto lock = store::sqlite::DataDirLock::acquire(c.data_dir);
  if (!lock) {
    std::fprintf(stderr, "meterd migrate: %s\n", lock.error().message.c_str());
    return 1;
  }
  try {
    store::sqlite::SqliteStore local({c.data_dir / "meterd.db"});  // opening it migrates it
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meterd migrate: cannot open %s: %s\n", (c.data_dir / "meterd.db").string().c_str(),
                 e.what());
    return 1;
  }
  std::printf("embedded store %s: schema up to date\n", (c.data_dir / "meterd.db").string().c_str());
  if (c.clickhouse_host.empty()) {
    std::printf("ClickHouse: not configured (set CLICKHOUSE_HOST or --clickhouse URL)\n");
    return 0;
  }
  store::clickhouse::Client client({store::clickhouse::clickhouse_url(c.clickhouse_host, c.clickhouse_port),
                                    c.clickhouse_user, c.clickhouse_password, std::chrono::seconds(60), ""});
  auto report = store::clickhouse::migrate(client, c.clickhouse_database, c.clickhouse_cluster);
  if (!report) {
    std::fprintf(stderr, "meterd migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  std::string where =
      c.clickhouse_cluster.empty() ? client.url() : client.url() + ", cluster " + c.clickhouse_cluster;
  if (report->applied.empty()) {
    std::printf("ClickHouse %s, database %s: schema version %d, up to date\n", where.c_str(),
                c.clickhouse_database.c_str(), report->to_version);
  }
  for (const auto& step : report->applied) {
    std::printf("ClickHouse %s, database %s: applied %s\n", where.c_str(), c.clickhouse_database.c_str(),
                step.c_str());
  }
  return 0;
}

}  // namespace meter::cli

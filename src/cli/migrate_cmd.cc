// `meterd migrate`: creates or upgrades the schemas (embedded store and, when configured,
// ClickHouse) and says what it did. Safe to run again: it then changes nothing.
#include <cstdio>

#include "cli/commands.h"
#include "store/clickhouse/schema.h"
#include "store/sqlite/data_dir_lock.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::cli {

int run_migrate(const config::LoadedConfig& loaded) {
  const config::Config& c = loaded.config;
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
                                    c.clickhouse_user, c.clickhouse_password});
  auto report = store::clickhouse::migrate(client, c.clickhouse_database);
  if (!report) {
    std::fprintf(stderr, "meterd migrate: %s\n", report.error().message.c_str());
    return 1;
  }
  if (report->applied.empty()) {
    std::printf("ClickHouse %s, database %s: schema version %d, up to date\n", client.url().c_str(),
                c.clickhouse_database.c_str(), report->to_version);
  }
  for (const auto& step : report->applied) {
    std::printf("ClickHouse %s, database %s: applied %s\n", client.url().c_str(),
                c.clickhouse_database.c_str(), step.c_str());
  }
  return 0;
}

}  // namespace meter::cli

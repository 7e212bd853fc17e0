// The reference for meterd's embedded write path: a bare SQLite append of the same rows
// (same table shape, WAL, synchronous=FULL, prepared statement, no rollups, no dedupe) in
// transactions of the given size. Prints rows per second.
#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/identifier.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: sqlite_append DB ROWS ROWS_PER_TRANSACTION\n");
    return 2;
  }
  std::string path = argv[1];
  long rows = std::stol(argv[2]);
  long per_tx = std::stol(argv[3]);
  std::filesystem::remove(path);
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA cache_size = -65536");
  db.exec(
      "CREATE TABLE usage_events_202611 (id TEXT NOT NULL, tenant_id TEXT NOT NULL, event_type TEXT NOT "
      "NULL, "
      "quantity TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, metadata TEXT NOT NULL)");
  SQLite::Statement insert(db, "INSERT INTO usage_events_202611 VALUES (?, ?, ?, ?, ?, ?, ?)");
  auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::int64_t ms = now.time_since_epoch().count();
  const std::string tenant = "tenant_bench", type = "tokens", quantity = "1",
                    metadata = "{\"endpoint\":\"/api/search\"}";

  auto start = std::chrono::steady_clock::now();
  for (long done = 0; done < rows;) {
    SQLite::Transaction tx(db);
    for (long i = 0; i < per_tx && done < rows; ++i, ++done) {
      std::string id = meter::new_event_id(now);
      insert.reset();
      insert.bindNoCopy(1, id);
      insert.bindNoCopy(2, tenant);
      insert.bindNoCopy(3, type);
      insert.bindNoCopy(4, quantity);
      insert.bind(5, ms);
      insert.bind(6, ms);
      insert.bindNoCopy(7, metadata);
      insert.exec();
    }
    tx.commit();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(rows) / seconds);
  return 0;
}

// meterd's path into ClickHouse, measured: N acknowledged events wait in the local log (an
// embedded store), then the shipper moves them to ClickHouse in batches of BATCH, exactly as
// `meterd serve --clickhouse` does. Prints the events/s. Also writes the same rows, as the
// TabSeparated body meterd sends, to OUT_TSV so that bench/clickhouse.sh can time a raw
// insert of them for reference. With CLUSTER, the database is made on that cluster
// (`meterd migrate --cluster`) and the shipper inserts into its Distributed table.
//   clickhouse_ship URL DATABASE N BATCH DATA_DIR OUT_TSV [CLUSTER]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/clock.h"
#include "ingest/shipper.h"
#include "store/clickhouse/schema.h"
#include "store/sqlite/sqlite_store.h"

using namespace meter;

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: clickhouse_ship URL DATABASE N BATCH DATA_DIR OUT_TSV [CLUSTER]\n");
    return 2;
  }
  std::string url = argv[1], db = argv[2], cluster = argc == 8 ? argv[7] : "";
  long n = std::atol(argv[3]);
  auto batch = static_cast<std::size_t>(std::atol(argv[4]));
  std::filesystem::path dir = argv[5];

  store::sqlite::SqliteStore local({dir / "meterd.db"});
  SystemClock clock;
  Timestamp now = clock.now();
  std::vector<Event> chunk;
  std::ofstream tsv(argv[6], std::ios::binary);
  for (long i = 0; i < n; ++i) {
    Event e;
    e.id = "bench-" + std::to_string(i);
    e.tenant_id = "tenant_" + std::to_string(i % 100);
    e.event_type = i % 3 == 0 ? "query" : (i % 3 == 1 ? "input_tokens" : "output_tokens");
    e.quantity = *Decimal::parse(std::to_string(i % 2000) + ".5");
    e.timestamp = floor_to(Window::kMonth, now) + std::chrono::seconds(i % 86400);
    e.received_at = now;
    e.metadata = R"({"model":"gpt-4","region":"eu"})";
    chunk.push_back(std::move(e));
    if (chunk.size() == 10'000 || i + 1 == n) {
      if (!local.append(chunk)) return 1;
      tsv << store::clickhouse::to_tsv("raw", chunk);
      chunk.clear();
    }
  }
  tsv.close();

  store::clickhouse::Client client(url);
  if (auto m = store::clickhouse::migrate(client, db, cluster); !m) {
    std::fprintf(stderr, "%s\n", m.error().message.c_str());
    return 1;
  }
  store::clickhouse::ClickHouseUsageStore remote(client, db, cluster);
  ingest::ShipperOptions options;
  options.batch_size = batch;
  options.catch_up_size = batch;
  ingest::Shipper shipper(local, remote, clock, options);
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto shipped = shipper.ship_once(true);
    if (!shipped) {
      std::fprintf(stderr, "%s\n", shipped.error().message.c_str());
      return 1;
    }
    if (!*shipped) break;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(n) / seconds);
  return 0;
}

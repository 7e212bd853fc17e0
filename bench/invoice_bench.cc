// Invoice time for one tenant-month of N events (default 10,000,000) in the embedded store:
// from the rollups (what every invoice request does) and from the raw events (the audit path),
// timed in the same run. Optionally the same against ClickHouse (URL given): the events are
// inserted there too. Prints milliseconds per invoice (median of the rounds).
//   invoice_bench DATA_DIR [N] [CLICKHOUSE_URL]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "billing/invoicer.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/clickhouse/schema.h"
#include "store/sqlite/sqlite_store.h"

using namespace meter;

namespace {

double median_ms(billing::Invoicer& invoicer, billing::UsageSource source, int rounds, std::string& total) {
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto invoice = invoicer.build("tenant_big", 2026, 10, source);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!invoice) {
      std::fprintf(stderr, "%s\n", invoice.error().message.c_str());
      std::exit(1);
    }
    total = invoice->total.to_string();
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: invoice_bench DATA_DIR [N] [CLICKHOUSE_URL [CLUSTER]]\n");
    return 2;
  }
  std::filesystem::path dir = argv[1];
  long n = argc > 2 ? std::atol(argv[2]) : 10'000'000;
  store::sqlite::SqliteStore local({dir / "meterd.db"});

  std::unique_ptr<store::clickhouse::Client> client;
  std::unique_ptr<store::clickhouse::ClickHouseUsageStore> remote;
  std::string cluster = argc > 4 ? argv[4] : "";  // the tables Distributed over this cluster
  if (argc > 3) {
    client = std::make_unique<store::clickhouse::Client>(argv[3]);
    if (auto m = store::clickhouse::migrate(*client, "bench_invoice", cluster); !m) {
      std::fprintf(stderr, "%s\n", m.error().message.c_str());
      return 1;
    }
    remote = std::make_unique<store::clickhouse::ClickHouseUsageStore>(*client, "bench_invoice", cluster);
  }

  // October 2026: 31 days; events spread evenly over the month, four meters.
  Timestamp start = *parse_rfc3339("2026-10-01T00:00:00Z");
  std::int64_t step_ms = 31LL * 86'400'000 / n;
  const char* types[] = {"query", "input_tokens", "output_tokens", "storage_gb"};
  std::vector<Event> chunk;
  auto load_start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    Event e;
    e.id = "inv-" + std::to_string(i);
    e.tenant_id = "tenant_big";
    e.event_type = types[i % 4];
    e.quantity = *Decimal::from_integer(1 + i % 1500);
    e.timestamp = start + std::chrono::milliseconds(step_ms * i);
    e.received_at = e.timestamp;
    chunk.push_back(std::move(e));
    if (chunk.size() == 50'000 || i + 1 == n) {
      if (!local.append(chunk)) return 1;
      // A batch id per insert, as the shipper has: on a cluster, equal rollup rows of one batch id
      // would be dropped as a resent block.
      if (remote && !remote->insert_batch("bench-" + std::to_string(i), chunk)) return 1;
      chunk.clear();
    }
  }
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::printf("%ld events of one tenant-month loaded in %.1f s\n", n, load_s);

  pricing::PriceBook book = pricing::price_settings_book(*Decimal::parse("0.01"), *Decimal::parse("0.003"),
                                                         *Decimal::parse("0.015"), *Decimal::parse("0.10"));
  quota::QuotaBook zones(quota::TenantQuota{});
  std::string total_rollups, total_raw;
  auto report = [&](const char* name, billing::Invoicer& invoicer) {
    double rollups = median_ms(invoicer, billing::UsageSource::kRollups, 21, total_rollups);
    double raw = median_ms(invoicer, billing::UsageSource::kRawEvents, 3, total_raw);
    std::printf(
        "%s: invoice from rollups %.2f ms (median of 21), from raw events %.0f ms (median of 3); "
        "totals %s / %s%s\n",
        name, rollups, raw, total_rollups.c_str(), total_raw.c_str(),
        total_rollups == total_raw ? " (equal)" : " (DIFFERENT)");
  };
  billing::Invoicer embedded(local, local, book, zones);
  report("embedded store", embedded);
  // The same tenant in a half-hour zone: its month starts and ends mid-hour, so the partial
  // hours come from the quarter-hour rollups.
  quota::TenantQuota india;
  india.time_zone = "Asia/Kolkata";
  (void)zones.set("tenant_big", india);
  std::printf("embedded store, tenant in Asia/Kolkata: invoice from rollups %.2f ms (median of 5)\n",
              median_ms(embedded, billing::UsageSource::kRollups, 5, total_rollups));
  (void)zones.set("tenant_big", quota::TenantQuota{});
  if (remote) {
    billing::Invoicer clickhouse(*remote, local, book, zones);
    report(cluster.empty() ? "ClickHouse" : "ClickHouse cluster (Distributed)", clickhouse);
  }
  return 0;
}

// `meterd retention apply [--dry-run]`: drops whole months of raw events (and their rollups)
// older than RETENTION_MONTHS, on ClickHouse and in the embedded store. A month goes once all
// of it is older than the retention period: with 36 months on 2026-11-27, 2023-10 goes (it
// ended 2023-11-01) and 2023-11 stays.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/stores.h"

namespace meter::cli {

int run_retention(const config::LoadedConfig& loaded, bool dry_run) {
  using namespace std::chrono;
  const config::Config& c = loaded.config;
  SystemClock clock;
  auto stores = open_stores(c, clock, StoreUse::kRead);
  if (!stores) return 1;

  year_month_day today{floor<days>(clock.now())};
  year_month_day oldest_kept = today - months(c.retention_months);
  if (!oldest_kept.ok()) oldest_kept = oldest_kept.year() / oldest_kept.month() / last;
  Timestamp keep_since = sys_days(oldest_kept);

  std::vector<int> all;
  for (store::UsageStore* s : stores->retained()) {
    auto m = s->months();
    if (!m) {
      std::fprintf(stderr, "meterd retention: %s\n", m.error().message.c_str());
      return 1;
    }
    all.insert(all.end(), m->begin(), m->end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());

  std::printf("retention: %d months, keeping events since %s (%s)\n", c.retention_months,
              format_rfc3339(keep_since).substr(0, 10).c_str(),
              stores->clickhouse ? "ClickHouse and the local log" : "embedded store");
  int dropped = 0;
  for (int month : all) {
    Timestamp start = month_start(month);
    if (next_window(Window::kMonth, start) > keep_since) continue;
    std::string name = fmt::format("{}-{:02}", month / 100, month % 100);
    if (dry_run) {
      std::printf("would drop %s\n", name.c_str());
    } else {
      // ClickHouse first: a month dropped there but not yet locally is dropped again next run.
      for (store::UsageStore* s : stores->retained()) {
        if (auto dropped_here = s->drop_month(month); !dropped_here) {
          std::fprintf(stderr, "meterd retention: dropping %s from %s failed: %s\n", name.c_str(),
                       std::string(s->name()).c_str(), dropped_here.error().message.c_str());
          return 1;
        }
      }
      std::printf("dropped %s\n", name.c_str());
    }
    ++dropped;
  }
  std::printf("%d month(s) %s\n", dropped,
              dry_run ? "would be dropped (dry run: nothing changed)" : "dropped");
  return 0;
}

}  // namespace meter::cli

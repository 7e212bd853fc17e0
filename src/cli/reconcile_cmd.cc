// `meterd reconcile`: raw event sums against the hourly and daily rollups, per tenant, event
// type and month, on whichever backend holds the events. Exit 1 on any drift.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/stores.h"

namespace meter::cli {

int run_reconcile(const config::LoadedConfig& loaded, const ReconcileArgs& args) {
  SystemClock clock;
  auto stores = open_stores(loaded.config, clock);
  if (!stores) return 1;
  store::Store& store = stores->store();

  std::vector<int> months;
  if (args.month.empty()) {
    auto all = store.months();
    if (!all) {
      std::fprintf(stderr, "meterd reconcile: %s\n", all.error().message.c_str());
      return 1;
    }
    months = *all;
  } else {
    int year = 0, month = 0;
    char dash = 0;
    if (std::sscanf(args.month.c_str(), "%4d%c%2d", &year, &dash, &month) != 3 || dash != '-' || month < 1 ||
        month > 12 || args.month.size() != 7) {
      std::fprintf(stderr, "meterd reconcile: --month must be YYYY-MM, e.g. 2026-11 (got %s)\n", args.month.c_str());
      return 2;
    }
    months.push_back(year * 100 + month);
  }

  std::printf("%-8s %-24s %-16s %24s %10s %24s %10s %24s %10s  %s\n", "month", "tenant", "event_type", "raw",
              "events", "hourly", "events", "daily", "events", "status");
  int rows = 0, drifting = 0;
  for (int month : months) {
    auto checks = store.check_rollups(month, args.tenant);
    if (!checks) {
      std::fprintf(stderr, "meterd reconcile: %s\n", checks.error().message.c_str());
      return 1;
    }
    for (const auto& c : *checks) {
      ++rows;
      drifting += c.drift();
      std::printf("%-8s %-24s %-16s %24s %10lld %24s %10lld %24s %10lld  %s\n",
                  fmt::format("{}-{:02}", month / 100, month % 100).c_str(), c.tenant_id.c_str(),
                  c.event_type.c_str(), c.raw.quantity.to_string().c_str(), static_cast<long long>(c.raw.events),
                  c.hourly.quantity.to_string().c_str(), static_cast<long long>(c.hourly.events),
                  c.daily.quantity.to_string().c_str(), static_cast<long long>(c.daily.events),
                  c.drift() ? "DRIFT" : "ok");
    }
  }
  std::printf("%d rows checked on %s, %d with drift\n", rows, std::string(store.name()).c_str(), drifting);
  stores.reset();  // report_late_usage opens the stores again
  if (report_late_usage(loaded, months) != 0) return 1;
  return drifting == 0 ? 0 : 1;
}

}  // namespace meter::cli

// `meterd reconcile`: raw event sums against the hourly and daily rollups, per tenant, event
// type and month, on whichever backend holds the events. Exit 1 on any drift.
#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "billing/adjustment.h"
#include "cli/billing_context.h"
#include "cli/commands.h"

namespace meter::cli {
namespace {

// Lists what arrived for finalized invoices after they were finalized, line by line (a grouped
// meter's lines by their group); 1 when the store cannot be read.
int report_late_usage(Billing& b, const std::vector<int>& months) {
  int late = 0;
  for (int month : months) {
    auto finalized = b.stores->records().finalized_invoices(month);
    if (!finalized) {
      std::fprintf(stderr, "meterd reconcile: %s\n", finalized.error().message.c_str());
      return 1;
    }
    for (const auto& snapshot : *finalized) {
      auto now = b.invoicer->build(snapshot.tenant_id, month / 100, month % 100);
      if (!now) {
        std::fprintf(stderr, "meterd reconcile: %s\n", now.error().message.c_str());
        return 1;
      }
      // What was billed: the invoice, then its adjustment notes (corrections are billed there).
      auto notes = b.stores->records().adjustments(snapshot.tenant_id, month);
      auto billed = notes ? billing::billed_so_far(snapshot, *notes) : fail(notes.error());
      if (!billed) {
        std::fprintf(stderr, "meterd reconcile: %s\n", billed.error().message.c_str());
        return 1;
      }
      for (const auto& line : now->lines) {
        auto it = billed->lines.find({line.event_type, line.group});
        Decimal before = it == billed->lines.end() ? Decimal() : it->second.quantity;
        if (line.charge.quantity == before) continue;
        if (late++ == 0) {
          std::printf(
              "\nlate usage: events that arrived after these invoices were finalized (not billed, nor in an "
              "adjustment note)\n");
          std::printf("%-8s %-24s %-16s %24s %24s %24s\n", "month", "tenant", "event_type", "invoiced", "now",
                      "late");
        }
        std::printf(
            "%-8s %-24s %-16s %24s %24s %24s\n", fmt::format("{}-{:02}", month / 100, month % 100).c_str(),
            snapshot.tenant_id.c_str(),
            (line.group.empty() ? line.event_type : line.event_type + " (" + line.group + ")").c_str(),
            before.to_string().c_str(), line.charge.quantity.to_string().c_str(),
            line.charge.quantity.checked_sub(before)->to_string().c_str());
      }
    }
  }
  if (late > 0) std::printf("%d line(s) of late usage in finalized invoices\n", late);
  return 0;
}

}  // namespace

int run_reconcile(const config::LoadedConfig& loaded, const ReconcileArgs& args) {
  SystemClock clock;
  auto billing = open_billing(loaded.config, clock, "meterd reconcile");
  if (!billing) return 1;
  store::UsageStore& store = billing->stores->usage();

  std::vector<int> months;
  if (args.month.empty()) {
    auto all = store.months();
    if (!all) {
      std::fprintf(stderr, "meterd reconcile: %s\n", all.error().message.c_str());
      return 1;
    }
    months = *all;
  } else {
    auto month = billing::parse_year_month(args.month);
    if (!month) {
      std::fprintf(stderr, "meterd reconcile: --month: %s\n", month.error().message.c_str());
      return 2;
    }
    months.push_back(month->first * 100 + month->second);
  }

  std::printf("%-8s %-24s %-16s %24s %10s %24s %10s %24s %10s %9s  %s\n", "month", "tenant", "event_type",
              "raw", "events", "hourly", "events", "daily", "events", "corrected", "status");
  int rows = 0, drifting = 0;
  std::int64_t corrected = 0;
  for (int month : months) {
    auto checks = store.check_rollups(month, args.tenant);
    if (!checks) {
      std::fprintf(stderr, "meterd reconcile: %s\n", checks.error().message.c_str());
      return 1;
    }
    for (const auto& c : *checks) {
      ++rows;
      drifting += c.drift();
      corrected += c.corrections;
      std::printf("%-8s %-24s %-16s %24s %10lld %24s %10lld %24s %10lld %9lld  %s\n",
                  fmt::format("{}-{:02}", month / 100, month % 100).c_str(), c.tenant_id.c_str(),
                  c.event_type.c_str(), c.raw.quantity.to_string().c_str(),
                  static_cast<long long>(c.raw.events), c.hourly.quantity.to_string().c_str(),
                  static_cast<long long>(c.hourly.events), c.daily.quantity.to_string().c_str(),
                  static_cast<long long>(c.daily.events), static_cast<long long>(c.corrections),
                  c.drift() ? "DRIFT" : "ok");
    }
  }
  std::printf("%d rows checked on %s, %d with drift; %lld corrected event(s)\n", rows,
              std::string(store.name()).c_str(), drifting, static_cast<long long>(corrected));
  if (report_late_usage(*billing, months) != 0) return 1;
  if (report_credits(*billing, args.tenant) != 0) return 1;
  return drifting == 0 ? 0 : 1;
}

}  // namespace meter::cli

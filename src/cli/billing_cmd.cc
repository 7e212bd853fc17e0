// `meterd invoice` and `meterd billing-run`: invoices computed from the store directly (no
// server needed), with the plans of meterd.toml and each tenant's time zone and plan.
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "billing/export.h"
#include "billing/invoicer.h"
#include "cli/commands.h"
#include "cli/stores.h"
#include "config/plans.h"

namespace meter::cli {
namespace {

// What computing invoices needs: the stores, the price book, every tenant's zone.
struct Billing {
  explicit Billing(pricing::PriceBook b) : book(std::move(b)) {}
  std::optional<Stores> stores;
  pricing::PriceBook book;
  quota::QuotaBook zones{quota::TenantQuota{}};
  std::unique_ptr<billing::Invoicer> invoicer;
};

std::unique_ptr<Billing> open_billing(const config::Config& c, Clock& clock, const char* command) {
  auto book = config::price_book(c);
  if (!book) {
    std::fprintf(stderr, "%s: %s\n", command, book.error().message.c_str());
    return nullptr;
  }
  auto b = std::make_unique<Billing>(std::move(*book));
  b->stores = open_stores(c, clock);
  if (!b->stores) return nullptr;
  auto tenants = b->stores->store().list_quotas();
  if (!tenants) {
    std::fprintf(stderr, "%s: %s\n", command, tenants.error().message.c_str());
    return nullptr;
  }
  for (const auto& [tenant, q] : *tenants) (void)b->zones.set(tenant, q);
  b->invoicer = std::make_unique<billing::Invoicer>(b->stores->store(), b->book, b->zones);
  return b;
}

}  // namespace

int report_late_usage(const config::LoadedConfig& loaded, const std::vector<int>& months) {
  SystemClock clock;
  auto b = open_billing(loaded.config, clock, "meterd reconcile");
  if (!b) return 1;
  int late = 0;
  for (int month : months) {
    auto finalized = b->stores->store().finalized_invoices(month);
    if (!finalized) {
      std::fprintf(stderr, "meterd reconcile: %s\n", finalized.error().message.c_str());
      return 1;
    }
    for (const auto& snapshot : *finalized) {
      auto now = b->invoicer->build(snapshot.tenant_id, month / 100, month % 100);
      if (!now) {
        std::fprintf(stderr, "meterd reconcile: %s\n", now.error().message.c_str());
        return 1;
      }
      rapidjson::Document doc;
      doc.Parse(snapshot.json.data(), snapshot.json.size());
      std::map<std::string, std::string> invoiced;
      if (!doc.HasParseError() && doc.HasMember("line_items")) {
        for (const auto& line : doc["line_items"].GetArray()) {
          invoiced[line["event_type"].GetString()] = line["quantity"].GetString();
        }
      }
      for (const auto& line : now->lines) {
        auto it = invoiced.find(line.event_type);
        Decimal before = it == invoiced.end() ? Decimal() : *Decimal::parse(it->second);
        if (line.charge.quantity == before) continue;
        if (late++ == 0) {
          std::printf("\nlate usage: events that arrived after these invoices were finalized (not billed)\n");
          std::printf("%-8s %-24s %-16s %24s %24s %24s\n", "month", "tenant", "event_type", "invoiced", "now", "late");
        }
        std::printf("%-8s %-24s %-16s %24s %24s %24s\n", fmt::format("{}-{:02}", month / 100, month % 100).c_str(),
                    snapshot.tenant_id.c_str(), line.event_type.c_str(), before.to_string().c_str(),
                    line.charge.quantity.to_string().c_str(),
                    line.charge.quantity.checked_sub(before)->to_string().c_str());
      }
    }
  }
  if (late > 0) std::printf("%d line(s) of late usage in finalized invoices\n", late);
  return 0;
}

int run_invoice(const config::LoadedConfig& loaded, const InvoiceArgs& args) {
  auto month = billing::parse_year_month(args.month);
  if (!month) {
    std::fprintf(stderr, "meterd invoice: --month: %s\n", month.error().message.c_str());
    return 2;
  }
  SystemClock clock;
  auto b = open_billing(loaded.config, clock, "meterd invoice");
  if (!b) return 1;
  bool csv = args.format == "csv";
  Result<std::string> text = std::string();
  if (args.from_raw) {
    auto invoice = b->invoicer->build(args.tenant, month->first, month->second, billing::UsageSource::kRawEvents);
    if (invoice) text = csv ? billing::invoice_csv(*invoice) : billing::invoice_json(*invoice);
    else text = fail(invoice.error());
  } else {
    text = b->invoicer->render(args.tenant, month->first, month->second, csv);
  }
  if (!text) {
    std::fprintf(stderr, "meterd invoice: %s\n", text.error().message.c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  if (!csv) std::fputc('\n', stdout);
  return 0;
}

int run_billing_run(const config::LoadedConfig& loaded, const BillingRunArgs& args) {
  auto month = billing::parse_year_month(args.month);
  if (!month) {
    std::fprintf(stderr, "meterd billing-run: --month: %s\n", month.error().message.c_str());
    return 2;
  }
  SystemClock clock;
  auto b = open_billing(loaded.config, clock, "meterd billing-run");
  if (!b) return 1;
  // Every zone's month lies within a day of the UTC month.
  auto utc = *billing::month_bounds(month->first, month->second);
  auto tenants = b->stores->store().tenants(utc.first - std::chrono::days(1), utc.second + std::chrono::days(1));
  if (!tenants) {
    std::fprintf(stderr, "meterd billing-run: %s\n", tenants.error().message.c_str());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.out, ec);
  std::ofstream summary(args.out / "summary.csv", std::ios::binary);
  if (ec || !summary) {
    std::fprintf(stderr, "meterd billing-run: cannot write to %s\n", args.out.string().c_str());
    return 1;
  }
  summary << billing::summary_csv_header();
  bool tty = ::isatty(STDERR_FILENO) != 0;
  std::map<std::string, Decimal> totals;  // per currency
  int failed = 0;
  for (std::size_t i = 0; i < tenants->size(); ++i) {
    const std::string& tenant = (*tenants)[i];
    auto invoice = b->invoicer->build(tenant, month->first, month->second);
    if (!invoice) {
      std::fprintf(stderr, "%s  %s: %s\n", tty ? "\n" : "", tenant.c_str(), invoice.error().message.c_str());
      ++failed;
      continue;
    }
    auto snapshot = b->stores->store().finalized_invoice(tenant, month->first * 100 + month->second);
    std::string json = snapshot && *snapshot ? (*snapshot)->json : billing::invoice_json(*invoice);
    std::string csv = snapshot && *snapshot ? (*snapshot)->csv : billing::invoice_csv(*invoice);
    std::ofstream(args.out / (invoice->number + ".json"), std::ios::binary) << json << '\n';
    std::ofstream(args.out / (invoice->number + ".csv"), std::ios::binary) << csv;
    summary << billing::summary_csv_row(*invoice);
    totals[invoice->currency] = *totals[invoice->currency].checked_add(invoice->total);
    if (tty) {
      std::fprintf(stderr, "\rbilling-run %s: %zu/%zu tenants", args.month.c_str(), i + 1, tenants->size());
    } else if ((i + 1) % 100 == 0) {
      std::fprintf(stderr, "billing-run %s: %zu/%zu tenants\n", args.month.c_str(), i + 1, tenants->size());
    }
  }
  if (tty && !tenants->empty()) std::fputc('\n', stderr);
  std::printf("billing-run %s: %zu invoices in %s (summary.csv)", args.month.c_str(), tenants->size() - failed,
              args.out.string().c_str());
  for (const auto& [currency, total] : totals) std::printf(", total %s %s", total.to_string().c_str(), currency.c_str());
  std::printf("\n");
  if (failed > 0) {
    std::fprintf(stderr, "meterd billing-run: %d tenant(s) failed (above); run it again after fixing them\n", failed);
    return 1;
  }
  return 0;
}

}  // namespace meter::cli

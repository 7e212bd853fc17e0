// `meterd invoice` and `meterd billing-run`: invoices computed from the store directly (no
// server needed), with the plans of meterd.toml and each tenant's time zone and plan.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "billing/adjustment.h"
#include "billing/export.h"
#include "billing/invoicer.h"
#include "cli/billing_context.h"
#include "cli/commands.h"

namespace meter::cli {

namespace {

// Writes DIR/NUMBER.json and .csv of a tenant's month and returns its summary.
Result<billing::InvoiceSummary> write_invoice(Billing& b, const std::string& tenant, int year, int month,
                                              const std::filesystem::path& dir) {
  auto snapshot = b.stores->records().finalized_invoice(tenant, year * 100 + month);
  if (!snapshot) return fail(snapshot.error());
  std::string json, csv;
  Result<billing::InvoiceSummary> summary = billing::InvoiceSummary{};
  if (*snapshot) {
    json = (*snapshot)->json;
    csv = (*snapshot)->csv;
    summary = billing::summary_of_json(json);
  } else {
    auto invoice = b.invoicer->build(tenant, year, month);
    if (!invoice) return fail(invoice.error());
    json = billing::invoice_json(*invoice);
    csv = billing::invoice_csv(*invoice);
    summary = billing::summary_of(*invoice);
  }
  if (!summary) return summary;
  std::ofstream(dir / (summary->number + ".json"), std::ios::binary) << json << '\n';
  std::ofstream(dir / (summary->number + ".csv"), std::ios::binary) << csv;
  return summary;
}

// Writes DIR/NUMBER.json and .csv of each adjustment note of the tenant's month, and their rows
// below the header in `all` (adjustments.csv); how many.
Result<int> write_adjustments(Billing& b, const std::string& tenant, int month,
                              const std::filesystem::path& dir, std::ofstream& all) {
  auto notes = b.stores->records().adjustments(tenant, month);
  if (!notes) return fail(notes.error());
  for (const auto& note : *notes) {
    std::ofstream(dir / (note.number + ".json"), std::ios::binary) << note.json << '\n';
    std::ofstream(dir / (note.number + ".csv"), std::ios::binary) << note.csv;
    all << std::string_view(note.csv).substr(billing::adjustment_csv_header().size());
  }
  return static_cast<int>(notes->size());
}

}  // namespace

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
    auto invoice =
        b->invoicer->build(args.tenant, month->first, month->second, billing::UsageSource::kRawEvents);
    if (invoice)
      text = csv ? billing::invoice_csv(*invoice) : billing::invoice_json(*invoice);
    else
      text = fail(invoice.error());
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
  auto tenants =
      b->stores->usage().tenants(utc.first - std::chrono::days(1), utc.second + std::chrono::days(1));
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
  std::ofstream adjustments(args.out / "adjustments.csv", std::ios::binary);
  adjustments << billing::adjustment_csv_header();
  int notes = 0;
  bool tty = ::isatty(STDERR_FILENO) != 0;
  std::map<std::string, Decimal> totals;  // per currency
  int failed = 0;
  for (std::size_t i = 0; i < tenants->size(); ++i) {
    const std::string& tenant = (*tenants)[i];
    // A finalized month is its snapshot, files and summary alike; otherwise the invoice now.
    auto written = write_invoice(*b, tenant, month->first, month->second, args.out);
    if (!written) {
      std::fprintf(stderr, "%s  %s: %s\n", tty ? "\n" : "", tenant.c_str(), written.error().message.c_str());
      ++failed;
      continue;
    }
    summary << billing::summary_csv_row(*written);
    auto noted = write_adjustments(*b, tenant, month->first * 100 + month->second, args.out, adjustments);
    if (!noted) {
      std::fprintf(stderr, "%s  %s: %s\n", tty ? "\n" : "", tenant.c_str(), noted.error().message.c_str());
      ++failed;
      continue;
    }
    notes += *noted;
    totals[written->currency] = *totals[written->currency].checked_add(written->total);
    if (tty) {
      std::fprintf(stderr, "\rbilling-run %s: %zu/%zu tenants", args.month.c_str(), i + 1, tenants->size());
    } else if ((i + 1) % 100 == 0) {
      std::fprintf(stderr, "billing-run %s: %zu/%zu tenants\n", args.month.c_str(), i + 1, tenants->size());
    }
  }
  if (tty && !tenants->empty()) std::fputc('\n', stderr);
  std::printf("billing-run %s: %zu invoices in %s (summary.csv)", args.month.c_str(),
              tenants->size() - failed, args.out.string().c_str());
  for (const auto& [currency, total] : totals)
    std::printf(", total %s %s", total.to_string().c_str(), currency.c_str());
  if (notes > 0) std::printf("; %d adjustment note(s) of finalized invoices (adjustments.csv)", notes);
  std::printf("\n");
  if (failed > 0) {
    std::fprintf(stderr, "meterd billing-run: %d tenant(s) failed (above); run it again after fixing them\n",
                 failed);
    return 1;
  }
  return 0;
}

}  // namespace meter::cli

#pragma once

#include <memory>
#include <optional>

#include "billing/invoicer.h"
#include "cli/stores.h"

namespace meter::cli {

// What computing invoices from the command line needs: the stores, the price book of
// meterd.toml, every tenant's zone, and the invoicer over them.
struct Billing {
  explicit Billing(pricing::PriceBook b) : book(std::move(b)) {}
  std::optional<Stores> stores;
  pricing::PriceBook book;
  quota::QuotaBook zones{quota::TenantQuota{}};
  std::unique_ptr<billing::Invoicer> invoicer;
};

// Opens it all; prints why (prefixed with `command`) and returns null on failure.
std::unique_ptr<Billing> open_billing(const config::Config& c, Clock& clock, const char* command);

}  // namespace meter::cli

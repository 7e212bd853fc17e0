#include "cli/billing_context.h"

#include <cstdio>

#include "config/plans.h"

namespace meter::cli {

std::unique_ptr<Billing> open_billing(const config::Config& c, Clock& clock, const char* command) {
  auto book = config::price_book(c);
  if (!book) {
    std::fprintf(stderr, "%s: %s\n", command, book.error().message.c_str());
    return nullptr;
  }
  auto b = std::make_unique<Billing>(std::move(*book));
  b->stores = open_stores(c, clock, StoreUse::kRead);
  if (!b->stores) return nullptr;
  if (auto s = load_quota_settings(b->stores->records(), b->zones); !s) {
    std::fprintf(stderr, "%s: %s\n", command, s.error().message.c_str());
    return nullptr;
  }
  b->invoicer =
      std::make_unique<billing::Invoicer>(b->stores->usage(), b->stores->records(), b->book, b->zones);
  b->invoicer->set_credits(&b->stores->credit_ledger());
  return b;
}

}  // namespace meter::cli

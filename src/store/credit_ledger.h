#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "credits/ledger.h"

namespace meter::store {

// Prepaid credit as stored (docs/credits.md): lots, per-tenant enforcement, and the ledger,
// whose burn transactions are written in the same transaction as the events that caused them.
// Implementations: sqlite/ (the embedded store). Thread-safe.
class CreditLedger {
 public:
  virtual ~CreditLedger() = default;

  // Stores a new lot and its grant transaction; the lot's seq is assigned here. kConflict when
  // the tenant already has a lot with that idempotency key (read it with grant_by_key).
  virtual Result<credits::Lot> put_grant(credits::Lot lot) = 0;
  virtual Result<std::optional<credits::LotRecord>> grant_by_key(std::string_view tenant,
                                                                 std::string_view idempotency_key) = 0;
  // Records a lot's void: `record` as voided (its voided amount taken out of it).
  virtual Status put_void(const credits::LotRecord& record) = 0;
  // Every lot with what its transactions took out of it; one tenant's, or all when empty.
  virtual Result<std::vector<credits::LotRecord>> grants(std::string_view tenant) = 0;

  virtual Status put_enforcement(std::string_view tenant, credits::Enforcement e) = 0;
  virtual Result<std::vector<std::pair<std::string, credits::Enforcement>>> enforcements() = 0;

  // Books a finalized invoice's rounding true-up (docs/credits.md) as the transaction of that
  // tenant-month; false when it was booked before (nothing changes).
  virtual Result<bool> put_trueup(std::string_view tenant, int month,
                                  std::span<const credits::Entry> entries) = 0;

  // What the ledger says about a tenant-month's lines (credits::MonthLedger).
  virtual Result<credits::MonthLedger> month_ledger(std::string_view tenant, int month) = 0;

  // The tenant's transactions with id > after, oldest first, at most `limit`.
  virtual Result<std::vector<credits::Transaction>> transactions(std::string_view tenant, std::int64_t after,
                                                                 std::size_t limit) = 0;

  // Burn entries the next event append writes in its own transaction (as one transaction of
  // the ledger per tenant), then forgets, stored or not. Called by the ingest writer only.
  virtual void stage_burns(std::vector<credits::Entry> entries) = 0;
};

// Every transaction of the tenant, oldest first (paged through transactions()).
inline Result<std::vector<credits::Transaction>> all_transactions(CreditLedger& ledger,
                                                                  std::string_view tenant) {
  constexpr std::size_t kPage = 10'000;
  std::vector<credits::Transaction> all;
  std::int64_t after = 0;
  for (;;) {
    auto page = ledger.transactions(tenant, after, kPage);
    if (!page) return fail(page.error());
    if (!page->empty()) after = page->back().id;
    bool last = page->size() < kPage;
    std::move(page->begin(), page->end(), std::back_inserter(all));
    if (last) return all;
  }
}

}  // namespace meter::store

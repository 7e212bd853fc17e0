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
#include "core/event.h"
#include "credits/ledger.h"
#include "credits/notice.h"
#include "credits/rule.h"

namespace meter::store {

// Prepaid credit as stored (docs/credits.md): lots, per-tenant enforcement, and the ledger,
// whose burn transactions are written in the same transaction as the events that caused them.
// Implementations: sqlite/ (the embedded store). Thread-safe.
// What a group of events adds to the ledger, written in their transaction: the burns (one
// ledger transaction per tenant), the top-up lots its crossings asked for (awaiting payment,
// so with no grant transaction yet) and the notices they fired.
struct StagedCredit {
  std::vector<credits::Entry> burns;
  std::vector<credits::Lot> lots;
  std::vector<credits::Notice> notices;
  bool empty() const { return burns.empty() && lots.empty() && notices.empty(); }
};

class CreditLedger {
 public:
  virtual ~CreditLedger() = default;

  // Stores a new lot and its grant transaction; the lot's seq is assigned here. kConflict when
  // the tenant already has a lot with that idempotency key (read it with grant_by_key).
  virtual Result<credits::Lot> put_grant(credits::Lot lot) = 0;
  virtual Result<std::optional<credits::LotRecord>> grant_by_key(std::string_view tenant,
                                                                 std::string_view idempotency_key) = 0;
  // Records a lot's void: `record` as voided (its voided amount taken out of it). A shared
  // ledger voids what the lot holds as stored (another writer may have burnt from it since).
  virtual Status put_void(const credits::LotRecord& record) = 0;
  // A top-up's payment arrived: the lot is credited (its grant transaction, at `at`).
  virtual Status put_activation(const credits::Lot& lot, Timestamp at) = 0;
  // Moves `amount` out of an ended lot into its rollover lot (stored here, with its seq), as
  // one rollover transaction. false when `into`'s idempotency key was stored before. A shared
  // ledger moves at most what the lot holds as stored (into.amount says what moved).
  virtual Result<bool> put_rollover(const credits::Lot& from, Decimal amount, credits::Lot& into) = 0;
  // Every lot with what its transactions took out of it; one tenant's, or all when empty.
  virtual Result<std::vector<credits::LotRecord>> grants(std::string_view tenant) = 0;

  virtual Status put_enforcement(std::string_view tenant, credits::Enforcement e) = 0;
  virtual Result<std::vector<std::pair<std::string, credits::Enforcement>>> enforcements() = 0;
  virtual Result<std::optional<credits::Enforcement>> enforcement(std::string_view tenant) = 0;

  // Books a finalized invoice's rounding true-up (docs/credits.md) as the transaction of that
  // tenant-month; false when it was booked before (nothing changes).
  virtual Result<bool> put_trueup(std::string_view tenant, int month,
                                  std::span<const credits::Entry> entries) = 0;

  // Books the credit an adjustment note of a finalized month gives back to its lots (each lot's
  // usage entry of the line negative, its credit positive), keyed by the note's number; false
  // when it was booked before.
  virtual Result<bool> put_restore(std::string_view tenant, std::string_view note,
                                   std::span<const credits::Entry> entries) = 0;

  // What the ledger says about a tenant-month's lines (credits::MonthLedger).
  virtual Result<credits::MonthLedger> month_ledger(std::string_view tenant, int month) = 0;

  // What usage took from the tenant's lots (burns net of returns, and true-ups) in [from, to).
  virtual Result<Decimal> consumed_between(std::string_view tenant, Timestamp from, Timestamp to) = 0;

  // The tenant's transactions with id > after, oldest first, at most `limit`.
  virtual Result<std::vector<credits::Transaction>> transactions(std::string_view tenant, std::int64_t after,
                                                                 std::size_t limit) = 0;

  // Rules (docs/credits.md): stored, ended, and those not ended (one tenant's, or all when empty).
  virtual Status put_rule(const credits::Rule& rule) = 0;
  virtual Result<bool> delete_rule(std::string_view tenant, std::string_view id, Timestamp at) = 0;
  virtual Result<std::vector<credits::Rule>> rules(std::string_view tenant) = 0;
  // The rule created with this Idempotency-Key (deleted or not), if any.
  virtual Result<std::optional<credits::Rule>> rule_by_key(std::string_view tenant, std::string_view key) = 0;

  // Notices: put_notice records one fired outside a group (false when its (tenant, type, ref)
  // was recorded before); pending ones are those whose webhook delivery is unfinished.
  virtual Result<bool> put_notice(const credits::Notice& notice) = 0;
  virtual Status update_notice_delivery(std::string_view id, std::string_view delivery, int attempts) = 0;
  virtual Result<std::vector<credits::NoticeRecord>> notices(std::string_view tenant, std::size_t limit,
                                                             bool pending_only) = 0;

  // What the next event append writes in its own transaction, then forgets, stored or not.
  // Called by the ingest writer only.
  virtual void stage(StagedCredit staged) = 0;

  // A ledger several writers share (PostgreSQL): before a group, each writer brings the
  // tenants it burns for up to date (ingest/credit_admission.h). One writer's ledger needs none.
  virtual bool shared() const { return false; }
  // In the group's transaction (begun here when need be, after any EventLog::lock_tenants):
  // counts one more change of each tenant's credit, which waits for another writer's group of
  // the tenant to commit and keeps the next one waiting until this one does; answers each
  // count as it was before, and whether each event's (tenant, id) is stored already.
  struct GroupSync {
    std::vector<std::int64_t> before;
    std::vector<bool> stored;
  };
  virtual Result<GroupSync> sync_group(std::span<const std::string> /*tenants*/,
                                       std::span<const Event* const> /*events*/) {
    return fail(Error::internal("sync_group on a ledger that is not shared"));
  }
  // The seq of a lot a group creates (a top-up): `proposed`, or one no other writer gives.
  virtual Result<std::int64_t> lot_seq(std::int64_t proposed) { return proposed; }
  // Tenants whose lots, rules or enforcement changed outside groups since `seen` (a count of
  // such changes; < 0 asks only for the count), and the count they bring it to.
  struct Changes {
    std::int64_t version = 0;
    std::vector<std::string> tenants;
  };
  virtual Result<Changes> changed_since(std::int64_t seen) { return Changes{seen, {}}; }
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

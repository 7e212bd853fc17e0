#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/sync.h"
#include "credits/credit_book.h"
#include "ingest/credit_admission.h"
#include "ingest/ingestor.h"
#include "quota/quota_book.h"
#include "store/credit_ledger.h"

namespace meter::ingest {

// Prepaid credit (docs/credits.md) for the API: the book the ingest writer burns, and the
// changes to what it decides on (grants, voids, enforcement, a tenant's plan), each stored
// first and then applied on the writer thread between two groups, so that no group sees half
// of one. Thread-safe; the changes block until the writer has applied them.
class CreditService {
 public:
  CreditService(const pricing::PriceBook& prices, const quota::QuotaBook& tenants,
                store::CreditLedger& ledger);

  credits::CreditBook& book() { return book_; }
  store::CreditLedger& ledger() { return ledger_; }

  // Every tenant's plan (nullopt: the default), the lots and enforcement settings: at start.
  Status load(const std::vector<std::pair<std::string, std::optional<std::string>>>& plans);
  // The writer that burns, and the admission that loads line state: before any change.
  void attach(Ingestor& ingestor, CreditAdmission& admission) {
    ingestor_ = &ingestor;
    admission_ = &admission;
  }

  struct Granted {
    credits::LotRecord record;
    bool created = false;  // false: the Idempotency-Key's lot, granted before
  };
  // Stores and applies a lot; the same idempotency key again answers the lot it made, unless
  // the request differs (kConflict).
  Result<Granted> grant(credits::Lot lot);
  // Voids what a lot still holds; voiding again answers the same. kNotFound for no such lot.
  Result<credits::LotRecord> void_lot(std::string_view tenant, std::string_view id, Timestamp now);
  Status set_enforcement(std::string_view tenant, credits::Enforcement e);
  // A top-up's payment arrived: its lot is credited and spendable (again: the same answer).
  // kNotFound for no such lot, kConflict when it was voided first.
  Result<credits::LotRecord> activate(std::string_view tenant, std::string_view id, Timestamp now);
  // Rules (docs/credits.md): stored, then watched from the next group on. delete_rule is false
  // when the tenant has no such rule (or it was deleted before).
  // The same Idempotency-Key again answers the rule it made (created false), unless the request
  // differs (kConflict).
  struct Added {
    credits::Rule rule;
    bool created = false;
  };
  Result<Added> add_rule(const credits::Rule& rule);
  // Moves what an ended lot still holds, at most `max`, into `into` (its amount set here), a
  // rollover lot; false when nothing was left or it was rolled before (its idempotency key).
  Result<bool> roll_over(const credits::Lot& from, Decimal max, credits::Lot into);
  Result<bool> delete_rule(std::string_view tenant, std::string_view id, Timestamp now);
  // The tenant's plan changed: its lines are priced on the new one from now on.
  void plan_changed(std::string_view tenant, std::optional<std::string> plan);
  // A finalized invoice's credit on one line from one lot: what was burnt and what it applied.
  struct Applied {
    std::string grant_id, event_type;
    Decimal burnt, applied;
  };
  // Books the rounding true-up of a finalized month (docs/credits.md): each lot gives what its
  // line applied beyond its burns (as far as it holds it; the rest is the invoice's write-off)
  // or gets back what it burnt beyond it. Once per tenant-month.
  // Also closes the month: its late events burn nothing from then on.
  Status book_trueup(std::string_view tenant, int month, std::vector<Applied> lines);

  // A tenant's credit now, and one lot: from the book, or from a shared ledger (every node's
  // burns). nullopt when the tenant has no credit, or no such lot.
  Result<std::optional<credits::Balance>> balance(std::string_view tenant, Timestamp at);
  Result<std::optional<credits::LotRecord>> lot(std::string_view tenant, std::string_view id);

  // Gives back to lots the credit an adjustment note of a finalized month says its lines no
  // longer need (docs/credits.md, "Corrections"): booked once per note, as a restore transaction.
  Status restore(std::string_view tenant, int month, std::string_view note,
                 const std::vector<credits::Restored>& restored);

  // What one more event would cost and whether it would be admitted now.
  Result<credits::Quote> quote(const Event& e);

  // The tenant's plan, from memory (kept up to date by plan_changed).
  const pricing::Plan& plan_of(std::string_view tenant) const;

 private:
  // The tenant's lot, or kNotFound.
  Result<credits::LotRecord> existing_lot(std::string_view tenant, std::string_view id);
  // The tenant's rules, from the store into the book (writer thread).
  Status reload_rules(std::string_view tenant);
  // Runs `change` on the writer thread between groups and waits for it.
  template <class T>
  Result<T> in_writer(std::function<Result<T>()> change);

  const pricing::PriceBook& prices_;
  store::CreditLedger& ledger_;
  mutable Mutex plans_mutex_;
  std::unordered_map<std::string, std::string> plans_ ABSL_GUARDED_BY(plans_mutex_);
  credits::CreditBook book_;
  Ingestor* ingestor_ = nullptr;
  CreditAdmission* admission_ = nullptr;
};

}  // namespace meter::ingest

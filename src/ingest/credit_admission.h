#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "core/sync.h"
#include "credits/credit_book.h"
#include "ingest/ingestor.h"
#include "ingest/quota_admission.h"
#include "store/credit_ledger.h"

namespace meter::ingest {

// Admission by prepaid credit (docs/credits.md), in front of another admission (the quotas):
// an event must pass both, and what it burns is written with it, in the same transaction, as
// the group's ledger transaction. A tenant-month's line state is loaded before its first event
// is admitted: its usage so far from the store, what it burnt from the ledger. A group whose
// burns take a balance below a rule's threshold (or to zero) fires its notices, and a top-up
// rule's lot awaiting payment, in the same transaction: once per crossing.
class CreditAdmission final : public Admission {
 public:
  // The tenant's usage of its local month (YYYYMM) so far, by event type: its invoice quantities.
  using MonthUsage =
      std::function<Result<std::map<std::string, Decimal>>(std::string_view tenant, int month)>;
  // Plan currency of a tenant, for the notices.
  using CurrencyOf = std::function<std::string(std::string_view tenant)>;
  // `inner` (the quotas) may be null.
  CreditAdmission(credits::CreditBook& book, store::CreditLedger& ledger, MonthUsage usage,
                  QuotaAdmission* inner, const Clock& clock, CurrencyOf currency_of)
      : book_(book),
        ledger_(ledger),
        usage_(std::move(usage)),
        inner_(inner),
        clock_(clock),
        currency_of_(std::move(currency_of)) {}

  // Whether the tenant-month's invoice is finalized (its late events burn nothing). Set before
  // ingestion starts; unset, no month is.
  using IsFinalized = std::function<Result<bool>(std::string_view tenant, int month)>;
  void finalized_by(IsFinalized f) { finalized_ = std::move(f); }

  // Receives the notices of each stored group (to send them). Set before ingestion starts.
  using OnNotices = std::function<void(std::vector<credits::Notice>)>;
  void on_notices(OnNotices f) { on_notices_ = std::move(f); }

  // The tenants whose credit another node changed outside its groups (a grant, a void, a rule):
  // reloaded before the next group. From any thread.
  void changed_elsewhere(std::vector<std::string> tenants);

  // With a shared ledger (docs/postgresql.md): after the quotas' locks, the change counts of the
  // group's tenants with credit are taken (store::CreditLedger::sync_group), which queues their
  // groups across writers; a tenant another writer changed since this one last wrote for it is
  // reloaded (lots, rules, enforcement and its months' lines), and events another writer stored
  // already burn nothing.
  Status prepare(std::span<const Event* const> group) override;
  // Loads the line state of the events' tenant-months not in memory yet (writer thread).
  Status load_months(std::span<const Event* const> events);
  std::optional<Error> admit(const Event& event) override;
  Status before_append() override;
  void rollback() override;
  void settle() override;
  void uncount(const Event& event) override;

 private:
  credits::CreditBook& book_;
  store::CreditLedger& ledger_;
  // The group's crossings as notices, and the top-ups they ask for.
  void fire(store::StagedCredit& staged);

  MonthUsage usage_;
  QuotaAdmission* inner_;
  const Clock& clock_;
  CurrencyOf currency_of_;
  OnNotices on_notices_;
  IsFinalized finalized_;
  Status sync_shared(std::span<const Event* const> group);
  Status reload(const std::string& tenant);
  // Shared ledger: the change count each tenant's credit has after this writer's last group for
  // it, and the events of the group in flight stored by another writer already.
  std::unordered_map<std::string, std::int64_t> counts_;
  std::unordered_set<const Event*> stored_elsewhere_;
  Mutex changed_mutex_;
  std::set<std::string> changed_ ABSL_GUARDED_BY(changed_mutex_);
  // What the group in flight fired: applied once it is stored.
  std::vector<credits::Lot> fired_lots_;
  std::vector<credits::Notice> fired_notices_;
};

}  // namespace meter::ingest

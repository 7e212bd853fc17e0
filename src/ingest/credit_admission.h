#pragma once

#include <functional>
#include <map>
#include <string>

#include "credits/credit_book.h"
#include "ingest/ingestor.h"
#include "store/credit_ledger.h"

namespace meter::ingest {

// Admission by prepaid credit (docs/credits.md), in front of another admission (the quotas):
// an event must pass both, and what it burns is written with it, in the same transaction, as
// the group's ledger transaction. A tenant-month's line state is loaded before its first event
// is admitted: its usage so far from the store, what it burnt from the ledger.
class CreditAdmission final : public Admission {
 public:
  // The tenant's usage of its local month (YYYYMM) so far, by event type: its invoice quantities.
  using MonthUsage =
      std::function<Result<std::map<std::string, Decimal>>(std::string_view tenant, int month)>;
  CreditAdmission(credits::CreditBook& book, store::CreditLedger& ledger, MonthUsage usage, Admission* inner)
      : book_(book), ledger_(ledger), usage_(std::move(usage)), inner_(inner) {}

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
  MonthUsage usage_;
  Admission* inner_;
};

}  // namespace meter::ingest

#pragma once

#include <functional>
#include <string>

#include "billing/adjustment.h"
#include "billing/invoice.h"
#include "core/sync.h"
#include "pricing/price_book.h"
#include "quota/quota_book.h"
#include "store/credit_ledger.h"
#include "store/tenant_records.h"
#include "store/usage_store.h"

namespace meter::billing {

enum class UsageSource { kRollups, kRawEvents };

// Builds tenants' invoices: the month is the tenant's local month (its billing time zone), the
// plan the tenant's (or the default), the usage from the rollups or, to audit, from the raw
// events; finalized months come from, and go to, the tenant records. Thread-safe as far as the
// stores are.
class Invoicer {
 public:
  Invoicer(store::UsageStore& usage, store::TenantRecords& records, const pricing::PriceBook& book,
           const quota::QuotaBook& tenants)
      : usage_(usage), records_(records), book_(book), tenants_(tenants) {}

  // Where the month's prepaid credit burns are read from (docs/credits.md); none: invoices
  // show no credit.
  void set_credits(store::CreditLedger* ledger) { credits_ = ledger; }
  // Called with each invoice finalize() stores (e.g. to book its credit's rounding true-up); an
  // error is logged by the caller's caller, the invoice stays finalized.
  std::function<Status(const Invoice&)> on_finalized;
  // Gives back to the lots the credit a note says its month's lines no longer need (the note's
  // number keys it: booked once), before the note is stored.
  std::function<Status(const std::string& tenant, int month, const std::string& number,
                       const std::vector<credits::Restored>& restored)>
      on_credit_restored;

  Result<Invoice> build(const std::string& tenant_id, int year, int month,
                        UsageSource source = UsageSource::kRollups);

  // The tenant's local month as instants.
  InvoicePeriod period(const std::string& tenant_id, int year, int month) const;

  // Usage per event type over [from, to). From rollups, whole UTC days come from the daily
  // rollup, whole hours from the hourly one, and the quarter hours of a partial hour (a zone
  // such as Asia/Kolkata, +05:30) from the quarter-hour rollup, so the answer is exact in every
  // zone (bounds off the quarter hour, which no zone has today, are read from raw events).
  // Meters with another aggregation, a group_by or gauge billing ([meters] in meterd.toml) are
  // then recomputed from the raw events.
  Result<MeterUsage> usage(const std::string& tenant_id, Timestamp from, Timestamp to, UsageSource source);

  // Renders the invoice, or returns the finalized snapshot when the month is finalized.
  Result<std::string> render(const std::string& tenant_id, int year, int month, bool csv);

  // Stores the current invoice as the month's immutable snapshot, marked finalized; kConflict
  // when already done, or when the month has not ended in the tenant's zone.
  Result<store::FinalizedInvoice> finalize(const std::string& tenant_id, int year, int month, Timestamp now);

  // Issues the finalized month's next adjustment note (billing/adjustment.h) when its invoice,
  // built now, differs from what was billed so far; nullopt when it does not, or when the month
  // is not finalized. Safe to call again: a note issued is part of what was billed.
  Result<std::optional<store::AdjustmentNote>> adjust(const std::string& tenant_id, int year, int month,
                                                      Timestamp now);

 private:
  struct Total {
    Decimal quantity;
    std::int64_t events = 0;
  };
  // The month (YYYYMM) whose invoice carries a note of this month as a line: the first later
  // one not finalized, when the tenant's plan carries notes; 0 when it does not.
  Result<int> carrying_month(const std::string& tenant_id, int year, int month);
  // Sums and event counts per event type: the rollup (or raw) part of usage().
  Result<std::map<std::string, Total>> summed_usage(const std::string& tenant_id, Timestamp from,
                                                    Timestamp to, UsageSource source);

  Mutex adjusting_;  // one note at a time: each starts from the one before
  store::UsageStore& usage_;
  store::TenantRecords& records_;
  const pricing::PriceBook& book_;
  const quota::QuotaBook& tenants_;
  store::CreditLedger* credits_ = nullptr;
};

}  // namespace meter::billing

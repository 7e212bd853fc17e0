#pragma once

#include <optional>
#include <vector>

#include "billing/invoice.h"
#include "credits/ledger.h"
#include "pricing/plan.h"

namespace meter::billing {

// The credit the month's burns apply to the invoice: each line gets its lots' burns rounded
// once (half up, to the plan's minor unit, never more than the line), shared among the lots
// by largest remainder; nullopt when nothing was burnt for the month.
std::optional<InvoiceCredits> credits_applied(const Invoice& invoice, const credits::MonthLedger& month,
                                              const std::vector<credits::LotRecord>& lots,
                                              const pricing::Plan& plan);

}  // namespace meter::billing

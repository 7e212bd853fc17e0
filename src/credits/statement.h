#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/time.h"
#include "credits/ledger.h"

namespace meter::credits {

// One lot's movements over a period, and the period's totals (the same fields summed):
// opening + granted − consumed − expired − voided = closing. rolled_over is the part of expired
// that moved into a rollover lot (granted there, when it was booked).
struct StatementLine {
  std::string grant_id;
  std::string name;
  std::string category;
  Decimal opening, granted, consumed, expired, voided, closing, rolled_over;
};
struct Statement {
  Timestamp from, to;
  std::vector<StatementLine> lots;  // lots with a balance or a movement in the period
  StatementLine total;
};

// The statement of [from, to) from the ledger (every transaction of the tenant, in order): what
// each lot held when the period opened and closed (a lot past its expiry holds nothing), what
// was granted, consumed (burns and true-ups, net of returns) and voided in between; expired is
// what left the balance by expiry, net of late events dated before it that still drew on it.
Statement statement(std::span<const LotRecord> lots, std::span<const Transaction> ledger, Timestamp from,
                    Timestamp to);

}  // namespace meter::credits

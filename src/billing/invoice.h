#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/time.h"
#include "pricing/price_book.h"

namespace meter::billing {

struct InvoiceLine {
  std::string event_type;
  std::string description;
  Decimal quantity;
  Decimal unit_price;
  Decimal per;
  Decimal amount;  // rounded once, to the currency's minor unit
  bool priced = true;
};

// A month of one tenant's usage, priced. The number is deterministic (same tenant and month,
// same number), so regenerating an invoice never invents a new one.
struct Invoice {
  std::string number;
  std::string tenant_id;
  int year = 0;
  int month = 0;
  Timestamp period_start;
  Timestamp period_end;  // exclusive
  std::string currency;
  std::vector<InvoiceLine> lines;
  Decimal subtotal;
  Decimal total;
};

// Prices the month's total quantity per event type. Event types without a price appear as
// unpriced lines with amount 0, so nothing metered is hidden. The total is the sum of the
// rounded lines.
Result<Invoice> build_invoice(const std::string& tenant_id, int year, int month,
                              const std::map<std::string, Decimal>& usage, const pricing::PriceBook& book);

// The UTC month [start, end) for year/month; an error when month is not 1..12.
Result<std::pair<Timestamp, Timestamp>> month_bounds(int year, int month);

}  // namespace meter::billing

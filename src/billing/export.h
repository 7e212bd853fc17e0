#pragma once

#include <string>

#include "billing/invoice.h"
#include "credits/statement.h"

namespace meter::billing {

// An invoice as JSON: the Python service's fields (invoice_number, tenant_id, year, month, period_start,
// period_end, currency, line_items[], subtotal, total) and meterd's (plan, time_zone, source,
// per line the model, free allowance, billable quantity and tiers; minimum commitment).
// Decimals are strings, so no reader turns them into floating point.
std::string invoice_json(const Invoice& invoice);

// The same as CSV (RFC 4180): one row per line item, then subtotal, minimum adjustment and
// total rows; tiers as "from-to@price" joined by ';'.
std::string invoice_csv(const Invoice& invoice);

// An invoice's head and totals: a billing run's summary row.
struct InvoiceSummary {
  std::string number, tenant_id, plan, period_start, period_end, currency;
  Decimal subtotal, minimum_adjustment, total;
};
InvoiceSummary summary_of(const Invoice& invoice);
// The same read back from invoice_json's text (a finalized snapshot); an error if it is not one.
Result<InvoiceSummary> summary_of_json(std::string_view invoice_json);

// A CSV text field, quoted when it holds a comma, quote or line break. Text that a spreadsheet
// would run as a formula (starting with =, +, -, @, tab or CR: tenant ids, event types and group
// values come from clients) gets a leading ' and quotes, as OWASP's "CSV injection" advises.
std::string csv_field(std::string_view s);

// A tenant's credit statement for a month (credits/statement.h) as CSV: one row per lot, then
// the total.
std::string statement_csv(const credits::Statement& s, std::string_view tenant, std::string_view month,
                          std::string_view currency);

// The header and one row of a billing run's summary CSV.
std::string summary_csv_header();
std::string summary_csv_row(const InvoiceSummary& summary);

}  // namespace meter::billing

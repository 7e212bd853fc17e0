#pragma once

#include <string>

#include "billing/invoice.h"

namespace meter::billing {

// An invoice as JSON: the seed's fields (invoice_number, tenant_id, year, month, period_start,
// period_end, currency, line_items[], subtotal, total) and meterd's (plan, time_zone, source,
// per line the model, free allowance, billable quantity and tiers; minimum commitment).
// Decimals are strings, so no reader turns them into floating point.
std::string invoice_json(const Invoice& invoice);

// The same as CSV (RFC 4180): one row per line item, then subtotal, minimum adjustment and
// total rows; tiers as "from-to@price" joined by ';'.
std::string invoice_csv(const Invoice& invoice);

// The header of invoice_csv, and a one-row summary per invoice for billing runs.
std::string summary_csv_header();
std::string summary_csv_row(const Invoice& invoice);

}  // namespace meter::billing

#pragma once

#include <compare>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/time.h"
#include "pricing/charge.h"
#include "pricing/plan.h"

namespace meter::billing {

// What one invoice line measures: a meter, and the value of its group_by field when it has one.
struct UsageKey {
  std::string event_type;
  std::string group;
  auto operator<=>(const UsageKey&) const = default;
};
using MeterUsage = std::map<UsageKey, Decimal>;

// One meter's line: the usage, how it was priced (the charge, with its tiers) and the amount.
struct InvoiceLine {
  std::string event_type;
  std::string group;  // the group_by value ("" when the meter is not grouped)
  std::string description;
  bool priced = true;  // false: no price in the plan; shown with amount 0
  Decimal unit_price;  // the first tier's, for the Python service's flat view
  Decimal per;
  pricing::Charge charge;
};

// An adjustment note of an earlier month carried as a line (plan adjustments_on_next_invoice).
struct CarriedAdjustment {
  std::string number;
  int month = 0;  // YYYYMM of the invoice it adjusts
  Decimal amount;
};

// Prepaid credit applied to one line (docs/credits.md): what one lot burnt for it as events
// arrived (exact), and that rounded to the plan's minor unit so that a line's lots add up to
// the line's credit, itself its burns rounded once.
struct AppliedCredit {
  std::string event_type;
  std::string grant_id;
  std::string name;
  std::string category;  // paid or promotional
  Decimal burnt;
  Decimal applied;
};

// The credit applied to an invoice: per lot and line, the totals by category, the rounding
// true-up (applied minus burnt: under half a minor unit per line), the rounding the lots could
// not cover (written off, not billed) and what is left to pay.
struct InvoiceCredits {
  std::vector<AppliedCredit> applied;
  Decimal total;
  Decimal paid;
  Decimal promotional;
  Decimal rounding;
  Decimal write_off;
  Decimal amount_due;
};

// A month of one tenant's usage, priced. The number is deterministic (same tenant and month,
// same number), so regenerating an invoice never invents a new one.
struct Invoice {
  std::string number;
  std::string tenant_id;
  std::string plan;
  int year = 0;
  int month = 0;
  std::string time_zone = "UTC";
  Timestamp period_start;          // the tenant's local month, as instants
  Timestamp period_end;            // exclusive
  std::string source = "rollups";  // or "raw_events"
  std::string currency;
  std::vector<InvoiceLine> lines;
  Decimal subtotal;                            // the sum of the rounded lines
  Decimal minimum_commitment;                  // the plan's
  Decimal minimum_adjustment;                  // what brings subtotal up to the minimum (0 when above)
  std::vector<CarriedAdjustment> adjustments;  // added to the total (negative: a credit)
  Decimal total;
  std::optional<InvoiceCredits> credits;  // when prepaid credit paid for part of the month
  std::optional<Timestamp> finalized_at;  // set once finalized; a draft until then
};

struct InvoicePeriod {
  int year = 0;
  int month = 0;
  std::string time_zone = "UTC";
  Timestamp start;
  Timestamp end;
};

// Prices the month's total quantity per event type with `plan`. Event types without a price
// appear as unpriced lines with amount 0, so nothing metered is hidden. Lines are sorted by
// event type; each is rounded once; the total is their sum plus the minimum adjustment.
// A grouped meter's lines are priced each on its own (tiers apply per group).
Result<Invoice> build_invoice(const std::string& tenant_id, const InvoicePeriod& period,
                              const MeterUsage& usage, const pricing::Plan& plan);
// The same for usage per event type only.
Result<Invoice> build_invoice(const std::string& tenant_id, const InvoicePeriod& period,
                              const std::map<std::string, Decimal>& usage, const pricing::Plan& plan);

// The UTC month [start, end) for year/month; an error naming the field when out of range.
Result<std::pair<Timestamp, Timestamp>> month_bounds(int year, int month);

// Parses "YYYY-MM" into year and month, or an error naming `field`.
Result<std::pair<int, int>> parse_year_month(std::string_view text, std::string field = "month");

}  // namespace meter::billing

#pragma once

#include <optional>
#include <vector>

#include "core/error.h"
#include "pricing/plan.h"

namespace meter::pricing {

// One tier's share of a charge: `quantity` units (of the billable quantity) in (from, to],
// at unit_price per `per` units, plus the tier's flat fee when charged.
struct TierCharge {
  Decimal from;
  std::optional<Decimal> to;
  Decimal quantity;
  Decimal unit_price;
  Decimal flat_fee;
};

// What one meter costs for a month, with the working shown.
struct Charge {
  Model model = Model::kPerUnit;
  Decimal quantity;  // metered
  Decimal free;      // covered by the free allowance
  Decimal billable;  // quantity - free
  Decimal packages;  // package model: packages charged
  std::vector<TierCharge> tiers;
  Decimal amount;  // exact sum of the tiers, rounded once to the plan's minor unit
};

// Prices `quantity` of one meter under `price`, rounding once with the plan's rules. Fails on
// overflow or a negative quantity, never wraps.
Result<Charge> charge(const MeterPrice& price, Decimal quantity, const Plan& plan);

// The same amount before the plan's rounding, to the 10^-12 unit: what prepaid credit burns
// (credits/README.md). Differences of it telescope: the burns of a month's events add up to
// exact_amount of the month's quantity, which the invoice line rounds once.
Result<Decimal> exact_amount(const MeterPrice& price, Decimal quantity);

}  // namespace meter::pricing

#pragma once

#include <optional>
#include <span>

#include "core/decimal.h"

namespace meter::pricing {

enum class Rounding {
  kHalfUp,    // 0.005 -> 0.01, -0.005 -> -0.01 (away from zero at the half)
  kHalfEven,  // banker's rounding
  kUp,        // away from zero
  kDown,      // towards zero
};

// Rounds to `digits` fractional digits (0..12).
Decimal round_to(Decimal value, int digits, Rounding mode);

// Σ quantity × unit_price ÷ per + fees, computed exactly (256-bit) and rounded once to
// `digits` fractional digits: a tiered line is rounded as a whole, never tier by tier.
// nullopt when per is not positive or the result leaves Decimal's range.
struct Term {
  Decimal quantity;
  Decimal unit_price;
};
std::optional<Decimal> extend_sum(std::span<const Term> terms, Decimal per, Decimal fees, int digits,
                                  Rounding mode);

// quantity × unit_price ÷ per, computed exactly (256-bit intermediate) and rounded once to
// `digits` fractional digits. nullopt when per is zero or the result leaves Decimal's range.
std::optional<Decimal> extend(Decimal quantity, Decimal unit_price, Decimal per, int digits, Rounding mode);

}  // namespace meter::pricing

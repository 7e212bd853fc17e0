#include "pricing/money.h"

#include <boost/multiprecision/cpp_int.hpp>

namespace meter::pricing {
namespace {

using Wide = boost::multiprecision::checked_int256_t;

Wide pow10(int n) {
  Wide p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// numerator / denominator rounded to an integer; denominator > 0. For Wide and, where the
// operands fit, Int128 (much faster: credit burns price every event).
template <class Int>
Int divide_rounded(const Int& numerator, const Int& denominator, Rounding mode) {
  Int quotient = numerator / denominator;  // truncates towards zero
  Int remainder = numerator % denominator;
  if (remainder == 0) return quotient;
  int sign = numerator < 0 ? -1 : 1;
  Int left = remainder < 0 ? Int(-remainder) : remainder;
  Int right = denominator - left;  // left vs right: below, at or above the half, without overflow
  bool away = false;
  switch (mode) {
    case Rounding::kHalfUp:
      away = left >= right;
      break;
    case Rounding::kHalfEven:
      away = left > right || (left == right && quotient % 2 != 0);
      break;
    case Rounding::kUp:
      away = true;
      break;
    case Rounding::kDown:
      away = false;
      break;
  }
  return away ? Int(quotient + sign) : quotient;
}

std::optional<Decimal> to_decimal(const Wide& units) {
  static const Wide kMax = Wide(std::numeric_limits<Int128>::max() / 1);
  if (units > kMax || units < -kMax) return std::nullopt;
  return Decimal::from_units(static_cast<Int128>(units));
}

}  // namespace

Decimal round_to(Decimal value, int digits, Rounding mode) {
  Wide step = pow10(Decimal::kScale - digits);
  return *to_decimal(divide_rounded(Wide(value.units()), step, mode) * step);
}

std::optional<Decimal> extend_sum(std::span<const Term> terms, Decimal per, Decimal fees, int digits,
                                  Rounding mode) {
  if (per.is_zero() || per.is_negative()) return std::nullopt;
  // quantity.units * price.units has scale 24, and so has fees.units * per.units; dividing the
  // sum by per.units brings it back to 12, and by 10^(12 - digits) more to the wanted
  // precision, rounding once. 256 bits hold any such sum of a few terms; more overflow loudly.
  try {
    Wide numerator = Wide(fees.units()) * Wide(per.units());
    for (const Term& t : terms) numerator += Wide(t.quantity.units()) * Wide(t.unit_price.units());
    Wide step = pow10(Decimal::kScale - digits);
    Wide rounded = divide_rounded(numerator, Wide(per.units()) * step, mode);
    return to_decimal(rounded * step);
  } catch (const std::overflow_error&) {
    return std::nullopt;
  }
}

std::optional<Decimal> extend(Decimal quantity, Decimal unit_price, Decimal per, int digits, Rounding mode) {
  Int128 product = 0, step = 1, denominator = 0, result = 0;
  for (int i = digits; i < Decimal::kScale; ++i) step *= 10;
  if (per.units() > 0 && !__builtin_mul_overflow(quantity.units(), unit_price.units(), &product) &&
      !__builtin_mul_overflow(per.units(), step, &denominator) &&
      !__builtin_mul_overflow(divide_rounded(product, denominator, mode), step, &result)) {
    return Decimal::from_units(result);
  }
  Term term{quantity, unit_price};
  return extend_sum(std::span(&term, 1), per, Decimal(), digits, mode);
}

}  // namespace meter::pricing

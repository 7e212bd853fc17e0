#include "core/decimal.h"

#include <limits>

namespace meter {
namespace {

constexpr Int128 kMax = std::numeric_limits<Int128>::max();
constexpr int kMaxExponent = 64;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Decimal> Decimal::from_integer(std::int64_t value) {
  Int128 units = 0;
  if (__builtin_mul_overflow(static_cast<Int128>(value), kOne, &units)) return std::nullopt;
  return Decimal(units);
}

std::optional<Decimal> Decimal::parse(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';

  // Collect the significant digits and where the decimal point sits among them.
  Int128 mantissa = 0;
  int fraction_digits = 0;
  bool any_digit = false;
  bool in_fraction = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (in_fraction || !any_digit) return std::nullopt;
      in_fraction = true;
      continue;
    }
    if (!is_digit(c)) break;
    any_digit = true;
    if (in_fraction) ++fraction_digits;
    if (mantissa == 0 && c == '0') continue;
    if (__builtin_mul_overflow(mantissa, 10, &mantissa) ||
        __builtin_add_overflow(mantissa, c - '0', &mantissa)) {
      return std::nullopt;
    }
    if (fraction_digits > kScale + kMaxExponent) return std::nullopt;
  }
  if (!any_digit || (in_fraction && text[i - 1] == '.')) return std::nullopt;

  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) exp_negative = text[i++] == '-';
    if (i == text.size()) return std::nullopt;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > kMaxExponent) return std::nullopt;
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;

  // value = mantissa * 10^(exponent - fraction_digits); units = value * 10^kScale.
  int shift = exponent - fraction_digits + kScale;
  Int128 units = mantissa;
  if (shift < 0) {
    // Only trailing zeros may be dropped: more precision than kScale is an error, not a rounding.
    for (; shift < 0; ++shift) {
      if (units % 10 != 0) return std::nullopt;
      units /= 10;
    }
  }
  for (; shift > 0; --shift) {
    if (units != 0 && __builtin_mul_overflow(units, 10, &units)) return std::nullopt;
  }
  if (units > kMax) return std::nullopt;
  return Decimal(negative ? -units : units);
}

std::string Decimal::to_string() const {
  // The magnitude as unsigned, so that the most negative value needs no special case.
  UInt128 magnitude = units_ < 0 ? -static_cast<UInt128>(units_) : static_cast<UInt128>(units_);
  UInt128 integral = magnitude / static_cast<UInt128>(kOne);
  auto fraction = static_cast<std::uint64_t>(magnitude % static_cast<UInt128>(kOne));

  char digits[48];
  int pos = sizeof digits;
  do {
    digits[--pos] = static_cast<char>('0' + static_cast<int>(integral % 10));
    integral /= 10;
  } while (integral != 0);

  std::string out;
  if (units_ < 0) out.push_back('-');
  out.append(digits + pos, sizeof digits - pos);
  if (fraction != 0) {
    char frac[kScale];
    for (int k = kScale - 1; k >= 0; --k, fraction /= 10) frac[k] = static_cast<char>('0' + fraction % 10);
    int len = kScale;
    while (frac[len - 1] == '0') --len;
    out.push_back('.');
    out.append(frac, len);
  }
  return out;
}

std::optional<Decimal> Decimal::checked_add(Decimal other) const {
  Int128 sum = 0;
  if (__builtin_add_overflow(units_, other.units_, &sum)) return std::nullopt;
  return Decimal(sum);
}

std::optional<Decimal> Decimal::checked_sub(Decimal other) const {
  Int128 diff = 0;
  if (__builtin_sub_overflow(units_, other.units_, &diff)) return std::nullopt;
  return Decimal(diff);
}

}  // namespace meter

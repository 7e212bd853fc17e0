#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meter {

// GCC's 128-bit integers; __extension__ keeps -Wpedantic quiet about them.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// An exact signed decimal: a 128-bit integer count of 10^-12 units.
// Range is about ±1.7e26 with 12 fractional digits, enough for 10^12 tokens times any price.
// Arithmetic that would leave the range returns nullopt instead of wrapping.
// Never constructed from or converted to binary floating point.
class Decimal {
 public:
  static constexpr int kScale = 12;
  static constexpr Int128 kOne = 1'000'000'000'000;

  constexpr Decimal() = default;
  static constexpr Decimal from_units(Int128 units) { return Decimal(units); }
  static std::optional<Decimal> from_integer(std::int64_t value);

  // Parses decimal text: an optional '-', digits with an optional fraction, and an optional
  // exponent (JSON number syntax, e.g. "1.5e3"); a leading '+' is accepted.
  // Fails on anything else, on more than kScale fractional digits and on overflow.
  static std::optional<Decimal> parse(std::string_view text);

  // Shortest exact text: no exponent, no trailing fractional zeros ("1.5", "-2", "0").
  std::string to_string() const;

  constexpr Int128 units() const { return units_; }
  constexpr bool is_negative() const { return units_ < 0; }
  constexpr bool is_zero() const { return units_ == 0; }

  std::optional<Decimal> checked_add(Decimal other) const;
  std::optional<Decimal> checked_sub(Decimal other) const;

  friend constexpr auto operator<=>(Decimal, Decimal) = default;

 private:
  constexpr explicit Decimal(Int128 units) : units_(units) {}
  Int128 units_ = 0;
};

}  // namespace meter

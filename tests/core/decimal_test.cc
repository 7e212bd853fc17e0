#include "core/decimal.h"

#include <gtest/gtest.h>

namespace meter {
namespace {

std::string roundtrip(std::string_view text) {
  auto d = Decimal::parse(text);
  return d ? d->to_string() : "<invalid>";
}

// Verifies that canonical text survives parse and print unchanged.
TEST(Decimal, ParsesAndPrintsCanonicalText) {
  EXPECT_EQ(roundtrip("0"), "0");
  EXPECT_EQ(roundtrip("1"), "1");
  EXPECT_EQ(roundtrip("-1.5"), "-1.5");
  EXPECT_EQ(roundtrip("0.000000000001"), "0.000000000001");
  EXPECT_EQ(roundtrip("1000000000000"), "1000000000000");
  EXPECT_EQ(roundtrip("123456789012345.678901234567"), "123456789012345.678901234567");
}

// Verifies that equivalent spellings, exponents included, normalise to one text.
TEST(Decimal, NormalisesEquivalentSpellings) {
  EXPECT_EQ(roundtrip("1.500"), "1.5");
  EXPECT_EQ(roundtrip("+2"), "2");
  EXPECT_EQ(roundtrip("-0"), "0");
  EXPECT_EQ(roundtrip("1.5e3"), "1500");
  EXPECT_EQ(roundtrip("15E-1"), "1.5");
  EXPECT_EQ(roundtrip("1e-12"), "0.000000000001");
  EXPECT_EQ(roundtrip("0.1000000000000000e0"), "0.1");
  EXPECT_EQ(roundtrip("007"), "7");
}

// Verifies that malformed text and precision beyond the scale are rejected, never rounded.
TEST(Decimal, RejectsMalformedAndTooPrecise) {
  for (const char* bad : {"", "-", ".", "1.", ".5", "1..2", "abc", "1e", "1e+", "NaN", "Infinity", "1,5",
                          " 1", "1 ", "0x10", "1.2.3", "--1"}) {
    EXPECT_FALSE(Decimal::parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(Decimal::parse("0.0000000000001").has_value());
  EXPECT_FALSE(Decimal::parse("1e-13").has_value());
}

// Verifies that values past the range fail instead of wrapping.
TEST(Decimal, OverflowIsAnError) {
  EXPECT_TRUE(Decimal::parse("100000000000000000000000000").has_value());    // 1e26
  EXPECT_FALSE(Decimal::parse("1000000000000000000000000000").has_value());  // 1e27
  EXPECT_FALSE(Decimal::parse("1e30").has_value());
  EXPECT_FALSE(Decimal::parse("1e999999").has_value());
  auto big = *Decimal::parse("100000000000000000000000000");
  auto acc = big;
  bool overflowed = false;
  for (int i = 0; i < 2000 && !overflowed; ++i) {
    auto next = acc.checked_add(big);
    if (!next)
      overflowed = true;
    else
      acc = *next;
  }
  EXPECT_TRUE(overflowed);
  EXPECT_FALSE(Decimal::from_units(-(static_cast<Int128>(1) << 126) * 2)
                   .checked_sub(Decimal::parse("1").value())
                   .has_value());
}

// Verifies exact addition where binary floating point would drift (0.1 + 0.2).
TEST(Decimal, AdditionIsExact) {
  auto sum = Decimal::parse("0.1")->checked_add(*Decimal::parse("0.2"));
  ASSERT_TRUE(sum);
  EXPECT_EQ(sum->to_string(), "0.3");
  EXPECT_EQ(*sum, *Decimal::parse("0.3"));
  Decimal total;
  for (int i = 0; i < 1000; ++i) total = *total.checked_add(*Decimal::parse("0.001"));
  EXPECT_EQ(total.to_string(), "1");
}

}  // namespace
}  // namespace meter

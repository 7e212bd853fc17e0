#include "pricing/money.h"

#include <gtest/gtest.h>

namespace meter::pricing {
namespace {

Decimal d(std::string_view s) { return *Decimal::parse(s); }

std::string ext(std::string_view q, std::string_view price, std::string_view per,
                Rounding mode = Rounding::kHalfUp) {
  auto r = extend(d(q), d(price), d(per), 2, mode);
  return r ? r->to_string() : "overflow";
}

// Verifies half-cent cases round once, in each mode.
TEST(Money, RoundsHalfCentsByMode) {
  EXPECT_EQ(ext("1", "0.005", "1"), "0.01");
  EXPECT_EQ(ext("1", "0.004999999999", "1"), "0");
  EXPECT_EQ(ext("1", "0.005", "1", Rounding::kHalfEven), "0");
  EXPECT_EQ(ext("1", "0.015", "1", Rounding::kHalfEven), "0.02");
  EXPECT_EQ(ext("1", "0.001", "1", Rounding::kUp), "0.01");
  EXPECT_EQ(ext("1", "0.019", "1", Rounding::kDown), "0.01");
  EXPECT_EQ(round_to(d("-0.005"), 2, Rounding::kHalfUp).to_string(), "-0.01");
}

// Verifies per-1,000 prices and very large quantities stay exact.
TEST(Money, ExtendsExactlyAtScale) {
  EXPECT_EQ(ext("123456", "0.003", "1000"), "0.37");
  EXPECT_EQ(ext("1000000000000", "0.003", "1000"), "3000000");  // 10^12 tokens
  EXPECT_EQ(ext("1000000000000", "0.015", "1000"), "15000000");
  EXPECT_EQ(ext("0.1", "0.1", "1"), "0.01");
  EXPECT_EQ(ext("100000000000000000000000000", "100", "1"), "overflow");
  EXPECT_FALSE(extend(d("1"), d("1"), d("0"), 2, Rounding::kHalfUp));
}

}  // namespace
}  // namespace meter::pricing

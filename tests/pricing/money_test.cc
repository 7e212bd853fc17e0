#include "pricing/money.h"

#include <gtest/gtest.h>

#include "billing/invoice.h"

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

// Verifies an invoice's total is the sum of its rounded lines and unpriced usage is shown.
TEST(Invoice, TotalIsSumOfRoundedLines) {
  Plan plan = price_settings_plan(d("0.01"), d("0.003"), d("0.015"), d("0.10"));
  auto bounds = *billing::month_bounds(2025, 11);
  billing::InvoicePeriod november{2025, 11, "UTC", bounds.first, bounds.second};
  std::map<std::string, Decimal> usage = {
      {"query", d("1")}, {"input_tokens", d("1500")}, {"output_tokens", d("1500")}, {"widgets", d("5")}};
  auto inv = billing::build_invoice("acme", november, usage, plan);
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->lines.size(), 4u);  // sorted by event type
  EXPECT_EQ(inv->number, "INV-202511-acme");
  EXPECT_EQ(inv->lines[0].charge.amount.to_string(), "0");     // input_tokens: 0.0045 -> 0.00
  EXPECT_EQ(inv->lines[1].charge.amount.to_string(), "0.02");  // output_tokens: 0.0225 -> 0.02
  EXPECT_EQ(inv->lines[2].charge.amount.to_string(), "0.01");  // query
  // 0.03, not the 0.04 that rounding the unrounded sum (0.037) would give.
  EXPECT_EQ(inv->total.to_string(), "0.03");
  EXPECT_FALSE(inv->lines[3].priced);
  EXPECT_FALSE(billing::month_bounds(2025, 0));
  EXPECT_FALSE(billing::parse_year_month("2025-13"));
  EXPECT_EQ(*billing::parse_year_month("2025-02"), (std::pair{2025, 2}));
}

}  // namespace
}  // namespace meter::pricing

#include "billing/invoice.h"

#include <gtest/gtest.h>

#include <random>

namespace meter::billing {
namespace {

using pricing::Plan;

Decimal d(std::string_view s) { return *Decimal::parse(s); }

// Verifies an invoice's total is the sum of its rounded lines and unpriced usage is shown.
TEST(Invoice, TotalIsSumOfRoundedLines) {
  Plan plan = pricing::price_settings_plan(d("0.01"), d("0.003"), d("0.015"), d("0.10"));
  auto bounds = *month_bounds(2025, 11);
  InvoicePeriod november{2025, 11, "UTC", bounds.first, bounds.second};
  std::map<std::string, Decimal> usage = {
      {"query", d("1")}, {"input_tokens", d("1500")}, {"output_tokens", d("1500")}, {"widgets", d("5")}};
  auto inv = build_invoice("acme", november, usage, plan);
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->lines.size(), 4u);  // sorted by event type
  EXPECT_EQ(inv->number, "INV-202511-acme");
  EXPECT_EQ(inv->lines[0].charge.amount.to_string(), "0");     // input_tokens: 0.0045 -> 0.00
  EXPECT_EQ(inv->lines[1].charge.amount.to_string(), "0.02");  // output_tokens: 0.0225 -> 0.02
  EXPECT_EQ(inv->lines[2].charge.amount.to_string(), "0.01");  // query
  // 0.03, not the 0.04 that rounding the unrounded sum (0.037) would give.
  EXPECT_EQ(inv->total.to_string(), "0.03");
  EXPECT_FALSE(inv->lines[3].priced);
  EXPECT_FALSE(month_bounds(2025, 0));
  EXPECT_FALSE(parse_year_month("2025-13"));
  EXPECT_EQ(*parse_year_month("2025-02"), (std::pair{2025, 2}));
}

// Property: an invoice's subtotal is the sum of its rounded lines, and the minimum commitment
// tops it up to the minimum, never more.
TEST(Invoice, TotalsAndMinimumCommitment) {
  Plan plan = pricing::price_settings_plan(d("0.01"), d("0.003"), d("0.015"), d("0.10"));
  plan.minimum_commitment = d("50");
  auto bounds = *month_bounds(2026, 2);
  InvoicePeriod february{2026, 2, "UTC", bounds.first, bounds.second};
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::map<std::string, Decimal> usage = {
        {"query", *Decimal::from_integer(static_cast<std::int64_t>(rng() % 10'000))},
        {"input_tokens", *Decimal::from_integer(static_cast<std::int64_t>(rng() % 10'000'000))},
        {"output_tokens", Decimal::from_units(static_cast<Int128>(rng() % 1'000'000'000'000'000ull))}};
    auto inv = build_invoice("acme", february, usage, plan);
    ASSERT_TRUE(inv);
    Decimal sum;
    for (const auto& line : inv->lines) sum = *sum.checked_add(line.charge.amount);
    EXPECT_EQ(inv->subtotal, sum);
    EXPECT_EQ(inv->total, std::max(inv->subtotal, plan.minimum_commitment));
    EXPECT_EQ(inv->minimum_adjustment, *inv->total.checked_sub(inv->subtotal));
  }
  auto low = build_invoice("acme", february, {{"query", d("100")}}, plan);
  EXPECT_EQ(low->subtotal.to_string(), "1");
  EXPECT_EQ(low->minimum_adjustment.to_string(), "49");
  EXPECT_EQ(low->total.to_string(), "50");
}

}  // namespace
}  // namespace meter::billing

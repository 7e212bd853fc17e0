#include "pricing/charge.h"

#include <gtest/gtest.h>

#include <random>

namespace meter::pricing {
namespace {

Decimal d(std::string_view s) { return *Decimal::parse(s); }

MeterPrice tiered(Model model) {
  MeterPrice p;
  p.event_type = "query";
  p.model = model;
  p.tiers = {{d("1000"), d("0.01"), {}}, {d("10000"), d("0.008"), {}}, {std::nullopt, d("0.005"), {}}};
  return p;
}

std::string amount(const MeterPrice& price, std::string_view quantity, const Plan& plan = Plan{}) {
  auto c = charge(price, d(quantity), plan);
  return c ? c->amount.to_string() : "error: " + c.error().message;
}

// Hand-computed golden charges: tier boundaries at, one below and one above a limit.
TEST(Charge, GraduatedAtTierBoundaries) {
  MeterPrice g = tiered(Model::kGraduated);
  EXPECT_EQ(amount(g, "999"), "9.99");
  EXPECT_EQ(amount(g, "1000"), "10");      // exactly at the limit: all in tier 1
  EXPECT_EQ(amount(g, "1001"), "10.01");   // 10 + 0.008 = 10.008 -> 10.01
  EXPECT_EQ(amount(g, "10000"), "82");     // 10 + 9000 * 0.008
  EXPECT_EQ(amount(g, "10001"), "82.01");  // 82.005 -> 82.01 (half up)
  auto c = *charge(g, d("1001"), Plan{});
  ASSERT_EQ(c.tiers.size(), 2u);
  EXPECT_EQ(c.tiers[1].from.to_string(), "1000");
  EXPECT_EQ(c.tiers[1].quantity.to_string(), "1");
}

// Graduated and volume pricing of the same usage differ as they should.
TEST(Charge, GraduatedVersusVolume) {
  EXPECT_EQ(amount(tiered(Model::kGraduated), "1500"), "14");  // 1000 * 0.01 + 500 * 0.008
  EXPECT_EQ(amount(tiered(Model::kVolume), "1500"), "12");     // 1500 * 0.008
  EXPECT_EQ(amount(tiered(Model::kVolume), "1000"), "10");     // at the limit: tier 1's price
  EXPECT_EQ(amount(tiered(Model::kVolume), "1001"), "8.01");   // 8.008: volume can fall as usage grows
  EXPECT_EQ(amount(tiered(Model::kVolume), "20000"), "100");
}

// Flat fees come with the tier they belong to.
TEST(Charge, FlatFees) {
  MeterPrice g = tiered(Model::kGraduated);
  g.tiers[1].flat_fee = d("25");
  EXPECT_EQ(amount(g, "1000"), "10");
  EXPECT_EQ(amount(g, "1001"), "35.01");
  MeterPrice v = tiered(Model::kVolume);
  v.tiers[0].flat_fee = d("5");
  EXPECT_EQ(amount(v, "1"), "5.01");
  EXPECT_EQ(amount(v, "0"), "0");  // no usage, no fee
}

// Packages: a started package counts whole, unless prorated.
TEST(Charge, PackageRounding) {
  MeterPrice p;
  p.model = Model::kPackage;
  p.package_size = d("1000");
  p.unit_price = d("2");
  EXPECT_EQ(amount(p, "0"), "0");
  EXPECT_EQ(amount(p, "1"), "2");
  EXPECT_EQ(amount(p, "1000"), "2");
  EXPECT_EQ(amount(p, "1001"), "4");
  EXPECT_EQ(charge(p, d("1500"), Plan{})->packages.to_string(), "2");
  p.package_prorate = true;
  EXPECT_EQ(amount(p, "1500"), "3");
  EXPECT_EQ(amount(p, "1"), "0");  // 0.002 -> 0.00
}

// A free allowance larger than the usage leaves nothing to pay; zero usage costs nothing.
TEST(Charge, FreeAllowanceAndZeroUsage) {
  MeterPrice g = tiered(Model::kGraduated);
  g.free_allowance = d("10000");
  auto c = *charge(g, d("5000"), Plan{});
  EXPECT_EQ(c.free.to_string(), "5000");
  EXPECT_EQ(c.billable.to_string(), "0");
  EXPECT_EQ(c.amount.to_string(), "0");
  EXPECT_EQ(amount(g, "10500"), "5");  // 500 billable, in tier 1
  for (Model m : {Model::kPerUnit, Model::kPackage, Model::kGraduated, Model::kVolume}) {
    MeterPrice p = m == Model::kGraduated || m == Model::kVolume ? tiered(m) : MeterPrice{};
    p.model = m;
    p.unit_price = d("1");
    EXPECT_EQ(amount(p, "0"), "0") << model_name(m);
  }
}

// 10^12 tokens at the Python service's prices, exactly; and overflow is an error, never a wrap.
TEST(Charge, HugeQuantities) {
  Plan prices = price_settings_plan(d("0.01"), d("0.003"), d("0.015"), d("0.10"));
  EXPECT_EQ(amount(*prices.find("input_tokens"), "1000000000000", prices), "3000000");
  EXPECT_EQ(amount(*prices.find("output_tokens"), "1000000000333", prices), "15000000");     // .004995
  EXPECT_EQ(amount(*prices.find("output_tokens"), "1000000000334", prices), "15000000.01");  // .00501
  MeterPrice p;
  p.unit_price = d("100000000000000");
  EXPECT_NE(amount(p, "100000000000000").find("overflows"), std::string::npos);
  EXPECT_FALSE(charge(p, d("-1"), Plan{}));
}

// Half-cent cases under each rounding mode; rounding happens once per line.
TEST(Charge, HalfCentRounding) {
  MeterPrice p;
  p.unit_price = d("0.005");
  Plan plan;
  auto with = [&](Rounding r, std::string_view q) {
    plan.rounding = r;
    return amount(p, q, plan);
  };
  EXPECT_EQ(with(Rounding::kHalfUp, "1"), "0.01");
  EXPECT_EQ(with(Rounding::kHalfEven, "1"), "0");
  EXPECT_EQ(with(Rounding::kHalfEven, "3"), "0.02");  // 0.015
  EXPECT_EQ(with(Rounding::kHalfEven, "5"), "0.02");  // 0.025
  EXPECT_EQ(with(Rounding::kDown, "3"), "0.01");
  EXPECT_EQ(with(Rounding::kUp, "0.2"), "0.01");  // 0.001
  // Graduated tiers are summed exactly, then rounded once: 0.004 + 0.004 = 0.008 -> 0.01,
  // where rounding each tier first would give 0.00.
  MeterPrice g;
  g.model = Model::kGraduated;
  g.tiers = {{d("1"), d("0.004"), {}}, {std::nullopt, d("0.004"), {}}};
  plan.rounding = Rounding::kHalfUp;
  EXPECT_EQ(amount(g, "2", plan), "0.01");
}

// Property: graduated charges never fall as usage grows.
TEST(Charge, GraduatedIsMonotone) {
  MeterPrice g = tiered(Model::kGraduated);
  g.tiers[1].flat_fee = d("3");
  std::mt19937_64 rng(7);
  Decimal previous_q, previous_amount;
  std::vector<std::int64_t> quantities(2000);
  for (auto& q : quantities) q = static_cast<std::int64_t>(rng() % 50'000);
  std::sort(quantities.begin(), quantities.end());
  for (std::int64_t q : quantities) {
    auto c = charge(g, *Decimal::from_integer(q), Plan{});
    ASSERT_TRUE(c);
    EXPECT_GE(c->amount, previous_amount) << q;
    previous_amount = c->amount;
  }
}

// Plans that would make prices ambiguous are refused with the plan and meter named.
TEST(Plan, ValidationNamesTheProblem) {
  Plan plan;
  plan.name = "pro";
  MeterPrice bad = tiered(Model::kGraduated);
  bad.tiers[1].up_to = d("500");  // below the tier before
  plan.prices = {bad};
  auto s = validate(plan);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("plan pro, meter query"), std::string::npos) << s.error().message;
  bad = tiered(Model::kGraduated);
  bad.tiers.back().up_to = d("99999");
  plan.prices = {bad};
  EXPECT_FALSE(validate(plan));
  plan.prices = {tiered(Model::kVolume)};
  EXPECT_TRUE(validate(plan));
}

}  // namespace
}  // namespace meter::pricing

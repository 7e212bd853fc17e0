#include "pricing/charge.h"

#include <fmt/format.h>

#include <algorithm>

namespace meter::pricing {
namespace {

Decimal ceil_div(Decimal a, Decimal b) {  // a, b > 0: the whole number of b's that cover a
  Int128 q = a.units() / b.units();
  if (q * b.units() != a.units()) ++q;
  return Decimal::from_units(q * Decimal::kOne);
}

Decimal sub(Decimal a, Decimal b) { return *a.checked_sub(b); }  // inputs are bounded by a

// The charge with its amount rounded to `digits` fractional digits.
Result<Charge> charge_to(const MeterPrice& price, Decimal quantity, int digits, Rounding rounding) {
  if (quantity.is_negative())
    return fail(Error::invalid("quantity", "usage of " + price.event_type + " is negative"));
  Charge c;
  c.model = price.model;
  c.quantity = quantity;
  c.free = std::min(quantity, price.free_allowance);
  c.billable = sub(quantity, c.free);

  std::vector<Term> terms;
  Decimal fees;
  Decimal per = price.per;
  switch (price.model) {
    case Model::kPerUnit:
      c.tiers.push_back({Decimal(), std::nullopt, c.billable, price.unit_price, Decimal()});
      terms.push_back({c.billable, price.unit_price});
      break;
    case Model::kPackage:
      if (price.package_prorate) {
        per = price.package_size;
        terms.push_back({c.billable, price.unit_price});
        c.packages = Decimal::from_units(c.billable.units() * Decimal::kOne / price.package_size.units());
      } else {
        per = *Decimal::from_integer(1);
        c.packages = c.billable.is_zero() ? Decimal() : ceil_div(c.billable, price.package_size);
        terms.push_back({c.packages, price.unit_price});
      }
      c.tiers.push_back({Decimal(), std::nullopt, c.billable, price.unit_price, Decimal()});
      break;
    case Model::kGraduated: {
      Decimal lower;
      for (const Tier& t : price.tiers) {
        if (c.billable <= lower) break;
        Decimal top = t.up_to ? std::min(c.billable, *t.up_to) : c.billable;
        Decimal portion = sub(top, lower);
        c.tiers.push_back({lower, t.up_to, portion, t.unit_price, t.flat_fee});
        terms.push_back({portion, t.unit_price});
        auto f = fees.checked_add(t.flat_fee);
        if (!f) return fail(Error::invalid("quantity", "flat fees of " + price.event_type + " overflow"));
        fees = *f;
        if (!t.up_to) break;
        lower = *t.up_to;
      }
      break;
    }
    case Model::kVolume: {
      if (c.billable.is_zero()) break;
      Decimal lower;
      for (const Tier& t : price.tiers) {
        if (!t.up_to || c.billable <= *t.up_to) {
          c.tiers.push_back({lower, t.up_to, c.billable, t.unit_price, t.flat_fee});
          terms.push_back({c.billable, t.unit_price});
          fees = t.flat_fee;
          break;
        }
        lower = *t.up_to;
      }
      break;
    }
  }
  auto amount = extend_sum(terms, per, fees, digits, rounding);
  if (!amount)
    return fail(Error::invalid("quantity", fmt::format("the amount for {} overflows", price.event_type)));
  c.amount = *amount;
  return c;
}

}  // namespace

Result<Charge> charge(const MeterPrice& price, Decimal quantity, const Plan& plan) {
  return charge_to(price, quantity, plan.minor_digits, plan.rounding);
}

Result<Decimal> exact_amount(const MeterPrice& price, Decimal quantity) {
  // Flat prices without building the working (credit burns price every event).
  if (!quantity.is_negative() && (price.model == Model::kPerUnit || price.model == Model::kPackage)) {
    Decimal billable = quantity > price.free_allowance ? sub(quantity, price.free_allowance) : Decimal();
    std::optional<Decimal> amount;
    if (price.model == Model::kPerUnit) {
      amount = extend(billable, price.unit_price, price.per, Decimal::kScale, Rounding::kHalfUp);
    } else if (price.package_prorate) {
      amount = extend(billable, price.unit_price, price.package_size, Decimal::kScale, Rounding::kHalfUp);
    } else {
      Decimal packages = billable.is_zero() ? Decimal() : ceil_div(billable, price.package_size);
      amount =
          extend(packages, price.unit_price, *Decimal::from_integer(1), Decimal::kScale, Rounding::kHalfUp);
    }
    if (amount) return *amount;
  }
  auto c = charge_to(price, quantity, Decimal::kScale, Rounding::kHalfUp);
  if (!c) return fail(c.error());
  return c->amount;
}

}  // namespace meter::pricing

#include "billing/credits_applied.h"

#include <algorithm>

#include "pricing/money.h"

namespace meter::billing {
namespace {

Decimal add(Decimal a, Decimal b) { return a.checked_add(b).value_or(a); }
Decimal sub(Decimal a, Decimal b) { return a.checked_sub(b).value_or(a); }

Decimal minor_unit(int digits) {
  Int128 units = Decimal::kOne;
  for (int i = 0; i < digits; ++i) units /= 10;
  return Decimal::from_units(units);
}

// Adds one minor unit to the shares that lost most to their floors until they reach `target`
// (largest remainder), or takes one from those that gained most until they fall to it.
void settle_to(std::vector<AppliedCredit>& shares, Decimal target, Decimal minor) {
  Decimal sum;
  for (const auto& s : shares) sum = add(sum, s.applied);
  std::vector<std::size_t> order(shares.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  bool up = sum < target;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    Decimal lost_a = sub(shares[a].burnt, shares[a].applied),
            lost_b = sub(shares[b].burnt, shares[b].applied);
    return up ? lost_a > lost_b : lost_a < lost_b;
  });
  for (std::size_t i = 0; sum != target && !order.empty(); i = (i + 1) % order.size()) {
    AppliedCredit& s = shares[order[i]];
    if (up) {
      s.applied = add(s.applied, minor);
      sum = add(sum, minor);
    } else if (s.applied >= minor) {
      s.applied = sub(s.applied, minor);
      sum = sub(sum, minor);
    } else if (std::all_of(shares.begin(), shares.end(), [&](const auto& x) { return x.applied < minor; })) {
      break;
    }
  }
}

}  // namespace

std::optional<InvoiceCredits> credits_applied(const Invoice& invoice, const credits::MonthLedger& month,
                                              const std::vector<credits::LotRecord>& lots,
                                              const pricing::Plan& plan) {
  if (month.burnt.empty()) return std::nullopt;
  const Decimal minor = minor_unit(plan.minor_digits);
  auto round = [&](Decimal d, pricing::Rounding mode) {
    return pricing::round_to(d, plan.minor_digits, mode);
  };
  // Each line's credit: its burns rounded once, never more than the line.
  struct Line {
    std::vector<AppliedCredit> shares;
    Decimal burnt, credit;
  };
  std::vector<Line> lines;
  Decimal burnt_total, reachable;  // burns, and what the lots that burnt still hold
  std::vector<const credits::LotRecord*> used;
  for (const InvoiceLine& line : invoice.lines) {
    if (!line.group.empty()) continue;  // grouped meters are not burnt as events arrive
    Line l;
    for (const auto& r : lots) {  // in grant order: the stable tie-breaker
      auto it = month.burnt.find({r.lot.id, line.event_type});
      if (it == month.burnt.end() || it->second <= Decimal()) continue;
      l.shares.push_back({line.event_type, r.lot.id, r.lot.name,
                          std::string(credits::category_name(r.lot.category)), it->second,
                          round(it->second, pricing::Rounding::kDown)});
      l.burnt = add(l.burnt, it->second);
      if (std::find(used.begin(), used.end(), &r) == used.end()) used.push_back(&r);
    }
    if (l.shares.empty()) continue;
    l.credit = std::min(round(l.burnt, pricing::Rounding::kHalfUp), line.charge.amount);
    burnt_total = add(burnt_total, l.burnt);
    lines.push_back(std::move(l));
  }
  if (lines.empty()) return std::nullopt;
  for (const auto* r : used) reachable = add(reachable, std::max(Decimal(), r->remaining()));
  // Rounding up may ask the lots for more than they hold: the whole minor units they can cover
  // are applied, the rest written off (the lines that rounded up most give it back).
  InvoiceCredits out;
  Decimal wanted;
  for (const auto& l : lines) wanted = add(wanted, l.credit);
  Decimal can = round(add(burnt_total, reachable), pricing::Rounding::kDown);
  if (wanted > can) {
    out.write_off = sub(wanted, can);
    std::vector<AppliedCredit> per_line;
    for (const auto& l : lines) per_line.push_back({"", "", "", "", l.burnt, l.credit});
    settle_to(per_line, can, minor);
    for (std::size_t i = 0; i < lines.size(); ++i) lines[i].credit = per_line[i].applied;
  }
  for (auto& l : lines) {
    settle_to(l.shares, l.credit, minor);
    for (auto& s : l.shares) {
      out.total = add(out.total, s.applied);
      out.rounding = add(out.rounding, sub(s.applied, s.burnt));
      Decimal& by_category = s.category == "paid" ? out.paid : out.promotional;
      by_category = add(by_category, s.applied);
      out.applied.push_back(std::move(s));
    }
  }
  out.amount_due = std::max(Decimal(), sub(sub(invoice.total, out.total), out.write_off));
  return out;
}

}  // namespace meter::billing

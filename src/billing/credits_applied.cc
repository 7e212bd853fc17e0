#include "billing/credits_applied.h"

#include <algorithm>
#include <chrono>
#include <map>

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

// The minimum adjustment paid from the lots that cover every meter (a scoped lot pays only its
// meters), usable at the month's last instant, in burn order, in whole minor units, after the
// lines' rounding took its share. What a finalized month booked for it (its true-up) counts as
// held, so the finalized invoice and a regenerated one apply the same.
std::vector<AppliedCredit> minimum_shares(const Invoice& invoice, const credits::MonthLedger& month,
                                          const std::vector<credits::LotRecord>& lots,
                                          const std::map<std::string, Decimal>& rounded_up,
                                          const pricing::Plan& plan) {
  std::vector<AppliedCredit> out;
  Decimal wanted = invoice.minimum_adjustment;
  if (wanted <= Decimal()) return out;
  std::vector<const credits::LotRecord*> order;
  for (const auto& r : lots) {
    if (r.lot.scope.empty() && r.lot.usable_at(invoice.period_end - std::chrono::milliseconds(1)))
      order.push_back(&r);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return credits::burns_before(a->lot, b->lot); });
  for (const auto* r : order) {
    if (wanted <= Decimal()) break;
    auto booked = month.burnt.find({r->lot.id, std::string(credits::kMinimumLine)});
    Decimal before = booked == month.burnt.end() ? Decimal() : booked->second;
    auto up = rounded_up.find(r->lot.id);
    Decimal held = add(std::max(Decimal(), r->remaining()), before);
    if (up != rounded_up.end()) held = sub(held, up->second);
    Decimal applied = std::min(wanted, pricing::round_to(held, plan.minor_digits, pricing::Rounding::kDown));
    if (applied <= Decimal()) continue;
    wanted = sub(wanted, applied);
    out.push_back({std::string(credits::kMinimumLine), r->lot.id, r->lot.name,
                   std::string(credits::category_name(r->lot.category)), before, applied});
  }
  return out;
}

}  // namespace

std::optional<InvoiceCredits> credits_applied(const Invoice& invoice, const credits::MonthLedger& month,
                                              const std::vector<credits::LotRecord>& lots,
                                              const pricing::Plan& plan) {
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
  auto take = [&out](AppliedCredit s, bool rounding) {
    out.total = add(out.total, s.applied);
    if (rounding) out.rounding = add(out.rounding, sub(s.applied, s.burnt));
    Decimal& by_category = s.category == "paid" ? out.paid : out.promotional;
    by_category = add(by_category, s.applied);
    out.applied.push_back(std::move(s));
  };
  std::map<std::string, Decimal> rounded_up;  // by lot: what the lines' rounding takes from it
  for (auto& l : lines) {
    settle_to(l.shares, l.credit, minor);
    for (auto& s : l.shares) {
      if (s.applied > s.burnt) rounded_up[s.grant_id] = add(rounded_up[s.grant_id], sub(s.applied, s.burnt));
      take(std::move(s), true);
    }
  }
  for (auto& s : minimum_shares(invoice, month, lots, rounded_up, plan)) take(std::move(s), false);
  if (out.applied.empty()) return std::nullopt;
  out.amount_due = std::max(Decimal(), sub(sub(invoice.total, out.total), out.write_off));
  return out;
}

}  // namespace meter::billing

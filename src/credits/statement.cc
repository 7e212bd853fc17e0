#include "credits/statement.h"

#include <map>

namespace meter::credits {
namespace {

Decimal add(Decimal a, Decimal b) { return a.checked_add(b).value_or(a); }
Decimal sub(Decimal a, Decimal b) { return a.checked_sub(b).value_or(a); }

void sum_into(StatementLine& total, const StatementLine& l) {
  total.opening = add(total.opening, l.opening);
  total.granted = add(total.granted, l.granted);
  total.consumed = add(total.consumed, l.consumed);
  total.expired = add(total.expired, l.expired);
  total.voided = add(total.voided, l.voided);
  total.closing = add(total.closing, l.closing);
  total.rolled_over = add(total.rolled_over, l.rolled_over);
}

}  // namespace

Statement statement(std::span<const LotRecord> lots, std::span<const Transaction> ledger, Timestamp from,
                    Timestamp to) {
  // Each lot's credit when the period opened and closed, and its movements in between.
  struct Moves {
    Decimal at_open, at_close, granted, consumed, voided;
  };
  std::map<std::string, Moves> moves;
  for (const Transaction& t : ledger) {
    if (t.at >= to) continue;  // ids are in order; instants nearly so
    for (const Entry& e : t.entries) {
      if (e.account != Account::kCredit) continue;
      // A rollover leaves its ended lot by expiry (rolled_over, below) and is granted to the new.
      bool rollover = t.kind == "rollover";
      if (rollover && e.amount.is_negative()) continue;
      Moves& m = moves[e.grant_id];
      m.at_close = add(m.at_close, e.amount);
      if (t.at < from) {
        m.at_open = add(m.at_open, e.amount);
      } else if (t.kind == "grant" || rollover) {
        m.granted = add(m.granted, e.amount);
      } else if (t.kind == "void") {
        m.voided = sub(m.voided, e.amount);
      } else {
        m.consumed = sub(m.consumed, e.amount);
      }
    }
  }
  Statement s{from, to, {}, {}};
  for (const LotRecord& r : lots) {
    auto it = moves.find(r.lot.id);
    if (it == moves.end()) continue;
    const Moves& m = it->second;
    StatementLine l{r.lot.id, r.lot.name, std::string(category_name(r.lot.category)), {}, {}, {}, {}, {},
                    {},       {}};
    bool expired_by_open = r.lot.expires_at && *r.lot.expires_at <= from;
    bool expired_by_close = r.lot.expires_at && *r.lot.expires_at <= to;
    l.opening = expired_by_open ? Decimal() : m.at_open;
    l.closing = expired_by_close ? Decimal() : m.at_close;
    l.granted = m.granted;
    l.consumed = m.consumed;
    l.voided = m.voided;
    l.expired = sub(sub(sub(add(l.opening, l.granted), l.consumed), l.voided), l.closing);
    if (expired_by_close && !expired_by_open) l.rolled_over = r.rolled;
    bool moved = !(l.opening.is_zero() && l.granted.is_zero() && l.consumed.is_zero() &&
                   l.expired.is_zero() && l.voided.is_zero() && l.closing.is_zero());
    if (!moved) continue;
    sum_into(s.total, l);
    s.lots.push_back(std::move(l));
  }
  return s;
}

}  // namespace meter::credits

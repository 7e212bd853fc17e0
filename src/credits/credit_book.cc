#include "credits/credit_book.h"

#include <fmt/format.h>

#include <algorithm>

#include "pricing/charge.h"

namespace meter::credits {
namespace {

Decimal add(Decimal a, Decimal b) { return a.checked_add(b).value_or(a); }
Decimal sub(Decimal a, Decimal b) { return a.checked_sub(b).value_or(a); }
Decimal neg(Decimal a) { return Decimal::from_units(-a.units()); }

}  // namespace

std::size_t CreditBook::LineHash::operator()(const LineKey& k) const {
  return std::hash<std::string>()(k.tenant) ^ (std::hash<std::string>()(k.event_type) * 31) ^
         static_cast<std::size_t>(k.month);
}

CreditBook::TenantCredit* CreditBook::account(std::string_view tenant) {
  auto it = accounts_.find(std::string(tenant));
  return it == accounts_.end() ? nullptr : &it->second;
}

const CreditBook::TenantCredit* CreditBook::account(std::string_view tenant) const {
  auto it = accounts_.find(std::string(tenant));
  return it == accounts_.end() ? nullptr : &it->second;
}

void CreditBook::set_enforcement(std::string_view tenant, Enforcement e) {
  MutexLock lock(mutex_);
  accounts_[std::string(tenant)].enforcement = e;
}

void CreditBook::add_lot(LotRecord record) {
  MutexLock lock(mutex_);
  TenantCredit& acct = accounts_[record.lot.tenant_id];
  auto state = std::make_unique<LotState>();
  state->record = std::move(record);
  auto at = std::upper_bound(acct.lots.begin(), acct.lots.end(), state, [](const auto& a, const auto& b) {
    return burns_before(a->record.lot, b->record.lot);
  });
  acct.lots.insert(at, std::move(state));
}

std::optional<LotRecord> CreditBook::void_lot(std::string_view tenant, std::string_view id, Timestamp at) {
  MutexLock lock(mutex_);
  TenantCredit* acct = account(tenant);
  if (acct == nullptr) return std::nullopt;
  for (auto& lot : acct->lots) {
    LotRecord& r = lot->record;
    if (r.lot.id != id) continue;
    if (!r.lot.voided_at) {
      r.voided = add(r.voided, r.remaining());
      r.lot.voided_at = at;
    }
    return r;
  }
  return std::nullopt;
}

void CreditBook::reprice(std::string_view tenant) {
  MutexLock lock(mutex_);
  for (auto& [key, line] : lines_) {
    if (key.tenant != tenant) continue;
    auto m = metered(tenant, key.event_type);
    auto priced = m ? pricing::exact_amount(*m->price, std::max(line.quantity, Decimal())) : Decimal();
    line.priced = priced.value_or(line.priced);
  }
}

std::optional<CreditBook::Metered> CreditBook::metered(std::string_view tenant,
                                                       std::string_view event_type) const {
  const pricing::MeterPrice* price = plan_of_(tenant).find(event_type);
  if (price == nullptr) return std::nullopt;
  const pricing::MeterDef* def = prices_.meter(event_type);
  if (def == nullptr) return Metered{price, false};
  if (def->needs_raw_events()) return std::nullopt;
  return Metered{price, def->aggregation == Aggregation::kCount};
}

std::optional<int> CreditBook::month_to_load(const Event& e) {
  MutexLock lock(mutex_);
  const TenantCredit* acct = account(e.tenant_id);
  if (acct == nullptr || acct->enforcement == Enforcement::kOff) return std::nullopt;
  int month = zone_of_(e.tenant_id).month_key(e.timestamp);
  if (loaded_.contains({e.tenant_id, month})) return std::nullopt;
  return month;
}

void CreditBook::load_month(std::string_view tenant, int month,
                            const std::map<std::string, Decimal>& quantities, const MonthLedger& ledger) {
  MutexLock lock(mutex_);
  loaded_[{std::string(tenant), month}] = true;
  TenantCredit& acct = accounts_[std::string(tenant)];
  for (const auto& [type, quantity] : quantities) {
    Line& line = line_at(tenant, type, month);
    line.quantity = quantity;
    auto m = metered(tenant, type);
    if (m) line.priced = pricing::exact_amount(*m->price, std::max(quantity, Decimal())).value_or(Decimal());
  }
  for (const auto& [type, due] : ledger.due) line_at(tenant, type, month).due = due;
  // Each lot's burns, in burn order (lots are kept in it).
  for (auto& lot : acct.lots) {
    for (const auto& [key, amount] : ledger.burnt) {
      if (key.first == lot->record.lot.id)
        line_at(tenant, key.second, month).burnt.emplace_back(lot.get(), amount);
    }
  }
}

CreditBook::Line& CreditBook::line_at(std::string_view tenant, const std::string& event_type, int month) {
  return lines_[LineKey{std::string(tenant), event_type, month}];
}

void CreditBook::save(Line& line) {
  if (line.saved == generation_) return;
  line.saved = generation_;
  line_undo_.emplace_back(&line, line);
}

void CreditBook::save(LotState& lot) {
  if (lot.saved == generation_) return;
  lot.saved = generation_;
  lot_undo_.emplace_back(&lot, lot.record);
}

void CreditBook::book(const LineKey& key, Account account, const LotState* lot, Decimal amount) {
  Decimal& sum = journal_[JournalKey{&key, account, lot}];
  sum = add(sum, amount);
}

Decimal CreditBook::usable(const TenantCredit& acct, std::string_view event_type, Timestamp at) {
  Decimal total;
  for (const auto& lot : acct.lots) {
    const LotRecord& r = lot->record;
    if (r.lot.usable_at(at) && r.lot.covers(event_type)) {
      Decimal left = r.remaining();
      if (!left.is_negative()) total = add(total, left);
    }
  }
  return total;
}

void CreditBook::burn(const LineKey& key, Line& line, TenantCredit& acct, Timestamp at, Decimal cost) {
  Decimal rest = cost;
  for (auto& lot : acct.lots) {
    if (rest.is_zero()) break;
    LotRecord& r = lot->record;
    if (!r.lot.usable_at(at) || !r.lot.covers(key.event_type)) continue;
    Decimal take = std::min(rest, r.remaining());
    if (!take.is_negative() && !take.is_zero()) {
      save(*lot);
      r.consumed = add(r.consumed, take);
      rest = sub(rest, take);
      auto it = std::find_if(line.burnt.begin(), line.burnt.end(),
                             [&](const auto& b) { return b.first == lot.get(); });
      if (it == line.burnt.end()) {
        // Kept in burn order, so that returns unwind from the last lot.
        auto at_lot = std::find_if(line.burnt.begin(), line.burnt.end(),
                                   [&](const auto& b) { return burns_before(r.lot, b.first->record.lot); });
        line.burnt.insert(at_lot, {lot.get(), take});
      } else {
        it->second = add(it->second, take);
      }
      book(key, Account::kCredit, lot.get(), neg(take));
      book(key, Account::kUsage, lot.get(), take);
    }
  }
  if (!rest.is_zero()) {
    line.due = add(line.due, rest);
    book(key, Account::kDue, nullptr, neg(rest));
    book(key, Account::kUsage, nullptr, rest);
  }
}

void CreditBook::give_back(const LineKey& key, Line& line, Decimal amount) {
  // What the invoice would bill goes first, then credit, from the lot burnt last.
  Decimal rest = amount;
  Decimal off_due = std::min(rest, line.due);
  if (off_due > Decimal()) {
    line.due = sub(line.due, off_due);
    rest = sub(rest, off_due);
    book(key, Account::kDue, nullptr, off_due);
    book(key, Account::kUsage, nullptr, neg(off_due));
  }
  for (auto it = line.burnt.rbegin(); it != line.burnt.rend() && rest > Decimal(); ++it) {
    Decimal back = std::min(rest, it->second);
    if (back <= Decimal()) continue;
    save(*it->first);
    it->first->record.consumed = sub(it->first->record.consumed, back);
    it->second = sub(it->second, back);
    rest = sub(rest, back);
    book(key, Account::kCredit, it->first, back);
    book(key, Account::kUsage, it->first, neg(back));
  }
  // Anything left was usage priced before the tenant had credit: billed, not burnt.
}

std::optional<Error> CreditBook::admit(const Event& e, const Also& also) {
  auto others = [&]() -> std::optional<Error> { return also ? also() : std::nullopt; };
  MutexLock lock(mutex_);
  TenantCredit* acct = account(e.tenant_id);
  if (acct == nullptr || acct->enforcement == Enforcement::kOff) return others();
  auto m = metered(e.tenant_id, e.event_type);
  if (!m) return others();
  int month = zone_of_(e.tenant_id).month_key(e.timestamp);
  auto found = lines_.find(LineKey{e.tenant_id, e.event_type, month});
  if (found == lines_.end()) {
    // Loaded with nothing of this type yet, or (a bug) not loaded: a line of its own.
    if (!loaded_.contains({e.tenant_id, month})) {
      return Error::unavailable(
          fmt::format("credit state of tenant {} for {} is not loaded; retry", e.tenant_id, month));
    }
    found = lines_.emplace(LineKey{e.tenant_id, e.event_type, month}, Line{}).first;
  }
  const LineKey& key = found->first;
  Line& line = found->second;
  Decimal step = m->counts ? *Decimal::from_integer(e.sign()) : e.quantity;
  auto quantity = line.quantity.checked_add(step);
  if (!quantity)
    return Error::invalid("quantity", "this event's quantity would overflow its meter's monthly sum");
  auto priced = pricing::exact_amount(*m->price, std::max(*quantity, Decimal()));
  if (!priced) return Error::invalid("quantity", priced.error().message);
  auto cost = priced->checked_sub(line.priced);
  if (!cost) return Error::invalid("quantity", "this event's price overflows");
  if (*cost > Decimal() && acct->enforcement == Enforcement::kHard && !e.is_retraction()) {
    Decimal available = usable(*acct, e.event_type, e.timestamp);
    if (available < *cost) {
      return Error{ErrorCode::kPaymentRequired,
                   fmt::format("tenant {} has {} of usable credit for {} and this event costs {}; grant more "
                               "credit, or set its credit enforcement to soft to bill the rest",
                               e.tenant_id, available.to_string(), e.event_type, cost->to_string()),
                   "credits"};
    }
  }
  if (auto refused = others()) return refused;
  if (auto refused = others()) return refused;
  save(line);
  if (*cost > Decimal()) burn(key, line, *acct, e.timestamp, *cost);
  if (cost->is_negative()) give_back(key, line, neg(*cost));
  line.quantity = *quantity;
  line.priced = *priced;
  return std::nullopt;
}

void CreditBook::rollback() {
  MutexLock lock(mutex_);
  for (auto it = line_undo_.rbegin(); it != line_undo_.rend(); ++it) *it->first = std::move(it->second);
  for (auto it = lot_undo_.rbegin(); it != lot_undo_.rend(); ++it) it->first->record = std::move(it->second);
  line_undo_.clear();
  lot_undo_.clear();
  journal_.clear();
  ++generation_;
}

void CreditBook::settle() {
  MutexLock lock(mutex_);
  line_undo_.clear();
  lot_undo_.clear();
  journal_.clear();
  ++generation_;
}

std::vector<Entry> CreditBook::journal() const {
  MutexLock lock(mutex_);
  std::vector<Entry> entries;
  entries.reserve(journal_.size());
  for (const auto& [key, amount] : journal_) {
    if (amount.is_zero()) continue;
    entries.push_back({key.line->tenant, key.account, key.lot != nullptr ? key.lot->record.lot.id : "",
                       key.line->month, key.line->event_type, amount});
  }
  return entries;
}

bool CreditBook::has_account(std::string_view tenant) const {
  MutexLock lock(mutex_);
  return account(tenant) != nullptr;
}

std::optional<Balance> CreditBook::balance(std::string_view tenant, Timestamp at) const {
  MutexLock lock(mutex_);
  const TenantCredit* acct = account(tenant);
  if (acct == nullptr) return std::nullopt;
  Balance b;
  b.tenant_id = std::string(tenant);
  b.enforcement = acct->enforcement;
  for (const auto& lot : acct->lots) {
    b.lots.push_back(lot->record);
    Decimal left = lot->record.remaining();
    if (lot->record.lot.usable_at(at) && left > Decimal()) b.available = add(b.available, left);
  }
  return b;
}

std::optional<LotRecord> CreditBook::lot(std::string_view tenant, std::string_view id) const {
  MutexLock lock(mutex_);
  const TenantCredit* acct = account(tenant);
  if (acct == nullptr) return std::nullopt;
  for (const auto& lot : acct->lots)
    if (lot->record.lot.id == id) return lot->record;
  return std::nullopt;
}

Result<Quote> CreditBook::quote(const Event& e) {
  MutexLock lock(mutex_);
  Quote q;
  const TenantCredit* acct = account(e.tenant_id);
  auto m = metered(e.tenant_id, e.event_type);
  if (!m) {
    q.burns = false;
    return q;
  }
  Line line;
  auto found = lines_.find(LineKey{e.tenant_id, e.event_type, zone_of_(e.tenant_id).month_key(e.timestamp)});
  if (found != lines_.end()) line = found->second;
  Decimal step = m->counts ? *Decimal::from_integer(1) : e.quantity;
  auto quantity = line.quantity.checked_add(step);
  if (!quantity)
    return fail(Error::invalid("quantity", "the quantity would overflow the meter's monthly sum"));
  auto priced = pricing::exact_amount(*m->price, std::max(*quantity, Decimal()));
  if (!priced) return fail(Error::invalid("quantity", priced.error().message));
  q.cost = sub(*priced, line.priced);
  if (acct != nullptr) q.available = usable(*acct, e.event_type, e.timestamp);
  bool hard = acct != nullptr && acct->enforcement == Enforcement::kHard;
  q.admitted = !hard || q.cost <= q.available;
  return q;
}

}  // namespace meter::credits

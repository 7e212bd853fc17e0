#include "credits/credit_book.h"

#include <fmt/format.h>

#include <algorithm>

#include "pricing/charge.h"

namespace meter::credits {
namespace {

Decimal add(Decimal a, Decimal b) { return a.checked_add(b).value_or(a); }
Decimal sub(Decimal a, Decimal b) { return a.checked_sub(b).value_or(a); }
Decimal neg(Decimal a) { return Decimal::from_units(-a.units()); }
// Debian's Abseil has a string_view of its own.
absl::string_view key_of(std::string_view tenant) { return {tenant.data(), tenant.size()}; }

}  // namespace

std::size_t CreditBook::LineHash::operator()(const LineKey& k) const {
  return std::hash<std::string>()(k.tenant) ^ (std::hash<std::string>()(k.event_type) * 31) ^
         static_cast<std::size_t>(k.month);
}

CreditBook::TenantCredit* CreditBook::account(std::string_view tenant) {
  auto it = accounts_.find(key_of(tenant));
  return it == accounts_.end() ? nullptr : &it->second;
}

const CreditBook::TenantCredit* CreditBook::account(std::string_view tenant) const {
  auto it = accounts_.find(key_of(tenant));
  return it == accounts_.end() ? nullptr : &it->second;
}

CreditBook::Line& CreditBook::line_at(std::string_view tenant, const std::string& event_type, int month) {
  auto [it, fresh] = lines_.try_emplace(LineKey{std::string(tenant), event_type, month});
  it->second.key = &it->first;
  return it->second;
}

void CreditBook::set_enforcement(std::string_view tenant, Enforcement e) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  accounts_[std::string(tenant)].enforcement = e;
}

void CreditBook::add_lot(LotRecord record) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  TenantCredit& acct = accounts_[record.lot.tenant_id];
  max_seq_ = std::max(max_seq_, record.lot.seq);
  auto state = std::make_unique<LotState>();
  state->record = std::move(record);
  auto at = std::upper_bound(acct.lots.begin(), acct.lots.end(), state, [](const auto& a, const auto& b) {
    return burns_before(a->record.lot, b->record.lot);
  });
  acct.lots.insert(at, std::move(state));
}

CreditBook::LotState* CreditBook::find_lot(std::string_view tenant, std::string_view id) {
  TenantCredit* acct = account(tenant);
  if (acct == nullptr) return nullptr;
  for (auto& lot : acct->lots)
    if (lot->record.lot.id == id) return lot.get();
  return nullptr;
}

std::optional<LotRecord> CreditBook::void_lot(std::string_view tenant, std::string_view id, Timestamp at) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  LotState* lot = find_lot(tenant, id);
  if (lot == nullptr) return std::nullopt;
  LotRecord& r = lot->record;
  if (!r.lot.voided_at) {
    r.voided = add(r.voided, r.remaining());
    r.lot.voided_at = at;
  }
  return r;
}

std::optional<LotRecord> CreditBook::activate(std::string_view tenant, std::string_view id) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  LotState* lot = find_lot(tenant, id);
  if (lot == nullptr) return std::nullopt;
  lot->record.lot.awaits_payment = false;
  return lot->record;
}

void CreditBook::roll_over(std::string_view tenant, std::string_view from, Decimal amount, LotRecord into) {
  {
    MutexLock lock(mutex_);
    if (LotState* lot = find_lot(tenant, from)) lot->record.rolled = add(lot->record.rolled, amount);
  }
  add_lot(std::move(into));
}

void CreditBook::set_rules(std::string_view tenant, std::vector<Rule> rules) {
  MutexLock lock(mutex_);
  std::erase_if(rules, [](const Rule& r) { return !r.watches_balance(); });
  accounts_[std::string(tenant)].rules = std::move(rules);
}

void CreditBook::reprice(std::string_view tenant) {
  MutexLock lock(mutex_);
  hot_.valid = false;
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

const CreditBook::Hot& CreditBook::resolve(const Event& e) {
  if (hot_.valid && hot_.tenant == e.tenant_id) {
    if (hot_.account == nullptr) return hot_;
    if (hot_.event_type == e.event_type && hot_.from <= e.timestamp && e.timestamp < hot_.to) {
      if (hot_.line == nullptr && hot_.metered && loaded_.contains({hot_.tenant, hot_.month})) {
        hot_.line = &line_at(hot_.tenant, hot_.event_type, hot_.month);
      }
      return hot_;
    }
  }
  hot_ = Hot{};
  hot_.tenant = e.tenant_id;
  hot_.event_type = e.event_type;
  hot_.valid = true;
  TenantCredit* acct = account(e.tenant_id);
  if (acct == nullptr || acct->enforcement == Enforcement::kOff) return hot_;
  hot_.account = acct;
  quota::Zone zone = zone_of_(e.tenant_id);
  hot_.from = zone.period_start(quota::Period::kMonth, e.timestamp);
  hot_.to = zone.period_end(quota::Period::kMonth, e.timestamp);
  hot_.month = zone.month_key(e.timestamp);
  hot_.metered = metered(e.tenant_id, e.event_type);
  if (closed_.contains({hot_.tenant, hot_.month})) hot_.metered.reset();  // late usage: not burnt
  if (hot_.metered && loaded_.contains({hot_.tenant, hot_.month})) {
    hot_.line = &line_at(hot_.tenant, hot_.event_type, hot_.month);
  }
  return hot_;
}

std::optional<int> CreditBook::month_to_load(const Event& e) {
  MutexLock lock(mutex_);
  const Hot& hot = resolve(e);
  if (hot.account == nullptr || !hot.metered || loaded_.contains({hot.tenant, hot.month}))
    return std::nullopt;
  return hot.month;
}

void CreditBook::reset_tenant(std::string_view tenant, std::optional<Enforcement> enforcement,
                              std::vector<LotRecord> lots, std::vector<Rule> rules) {
  {
    MutexLock lock(mutex_);
    hot_.valid = false;
    // Lines point at the lots: they go first, and come back with the months.
    std::erase_if(lines_, [&](const auto& entry) { return entry.first.tenant == tenant; });
    std::erase_if(loaded_, [&](const auto& key) { return key.first == tenant; });
    TenantCredit& acct = accounts_[std::string(tenant)];
    acct.lots.clear();
    acct.enforcement = enforcement.value_or(TenantCredit{}.enforcement);
  }
  for (auto& record : lots) add_lot(std::move(record));
  set_rules(tenant, std::move(rules));
}

void CreditBook::close_month(std::string_view tenant, int month) {
  MutexLock lock(mutex_);
  if (account(tenant) == nullptr) return;  // no credit: nothing burns anyway
  hot_.valid = false;
  closed_.insert({std::string(tenant), month});
}

void CreditBook::load_month(std::string_view tenant, int month,
                            const std::map<std::string, Decimal>& quantities, const MonthLedger& ledger) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  loaded_.insert({std::string(tenant), month});
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

void CreditBook::add_to(std::vector<std::pair<LotState*, Decimal>>& sums, LotState* lot, Decimal amount) {
  auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& s) { return s.first == lot; });
  if (it != sums.end()) {
    it->second = add(it->second, amount);
    return;
  }
  // Kept in burn order, so that returns unwind from the last lot.
  auto at = std::find_if(sums.begin(), sums.end(),
                         [&](const auto& s) { return burns_before(lot->record.lot, s.first->record.lot); });
  sums.insert(at, {lot, amount});
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

void CreditBook::burn(Line& line, TenantCredit& acct, Timestamp at, Decimal cost) {
  Decimal rest = cost;
  for (auto& lot : acct.lots) {
    if (rest.is_zero()) break;
    LotRecord& r = lot->record;
    if (!r.lot.usable_at(at) || !r.lot.covers(line.key->event_type)) continue;
    Decimal take = std::min(rest, r.remaining());
    if (take <= Decimal()) continue;
    save(*lot);
    r.consumed = add(r.consumed, take);
    rest = sub(rest, take);
    add_to(line.burnt, lot.get(), take);
    add_to(line.group_burnt, lot.get(), take);
  }
  if (!rest.is_zero()) {
    line.due = add(line.due, rest);
    line.group_due = add(line.group_due, rest);
  }
}

void CreditBook::give_back(Line& line, Decimal amount) {
  // What the invoice would bill goes first, then credit, from the lot burnt last.
  Decimal rest = amount;
  Decimal off_due = std::min(rest, line.due);
  if (off_due > Decimal()) {
    line.due = sub(line.due, off_due);
    line.group_due = sub(line.group_due, off_due);
    rest = sub(rest, off_due);
  }
  for (auto it = line.burnt.rbegin(); it != line.burnt.rend() && rest > Decimal(); ++it) {
    Decimal back = std::min(rest, it->second);
    if (back <= Decimal()) continue;
    save(*it->first);
    it->first->record.consumed = sub(it->first->record.consumed, back);
    it->second = sub(it->second, back);
    add_to(line.group_burnt, it->first, neg(back));
    rest = sub(rest, back);
  }
  // Anything left was usage priced before the tenant had credit: billed, not burnt.
}

Result<CreditBook::Step> CreditBook::step(const Line& line, const Metered& m, const Event& e) {
  Decimal units = m.counts ? *Decimal::from_integer(e.sign()) : e.quantity;
  auto quantity = line.quantity.checked_add(units);
  if (!quantity)
    return fail(Error::invalid("quantity", "this event's quantity would overflow its meter's monthly sum"));
  auto priced = pricing::exact_amount(*m.price, std::max(*quantity, Decimal()));
  if (!priced) return fail(Error::invalid("quantity", priced.error().message));
  auto cost = priced->checked_sub(line.priced);
  if (!cost) return fail(Error::invalid("quantity", "this event's price overflows"));
  return Step{*quantity, *priced, *cost};
}

std::optional<Error> CreditBook::admit(const Event& e, const Also& also) {
  auto others = [&]() -> std::optional<Error> { return also ? also() : std::nullopt; };
  MutexLock lock(mutex_);
  const Hot& hot = resolve(e);
  if (hot.account == nullptr || !hot.metered) return others();
  if (hot.line == nullptr) {
    // A bug: prepare() loads every month a group touches before it is admitted.
    return Error::unavailable(
        fmt::format("credit state of tenant {} for {} is not loaded; retry", e.tenant_id, hot.month));
  }
  TenantCredit& acct = *hot.account;
  Line& line = *hot.line;
  const Metered& m = *hot.metered;
  auto next = step(line, m, e);
  if (!next) return next.error();
  const Decimal* cost = &next->cost;
  const Decimal* priced = &next->priced;
  const Decimal* quantity = &next->quantity;
  if (*cost > Decimal() && acct.enforcement == Enforcement::kHard && !e.is_retraction()) {
    Decimal available = usable(acct, e.event_type, e.timestamp);
    if (available < *cost) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return Error{ErrorCode::kPaymentRequired,
                   fmt::format("tenant {} has {} of usable credit for {} and this event costs {}; grant more "
                               "credit, or set its credit enforcement to soft to bill the rest",
                               e.tenant_id, available.to_string(), e.event_type, cost->to_string()),
                   "credits"};
    }
  }
  if (auto refused = others()) return refused;
  save(line);
  if (!cost->is_zero()) ++group_burning_;
  if (*cost > Decimal()) burn(line, acct, e.timestamp, *cost);
  if (cost->is_negative()) give_back(line, neg(*cost));
  line.quantity = *quantity;
  line.priced = *priced;
  return std::nullopt;
}

const LotRecord& CreditBook::before_group(const LotState& lot) const {
  if (lot.saved != generation_) return lot.record;
  for (const auto& [state, copy] : lot_undo_)
    if (state == &lot) return copy;
  return lot.record;
}

std::vector<CreditBook::Crossing> CreditBook::crossings(Timestamp now) const {
  MutexLock lock(mutex_);
  std::set<std::string_view> tenants;
  for (const auto& [lot, copy] : lot_undo_) tenants.insert(copy.lot.tenant_id);
  auto spendable = [now](const LotRecord& r) {
    Decimal left = r.remaining();
    return r.lot.usable_at(now) && left > Decimal() ? left : Decimal();
  };
  std::vector<Crossing> out;
  for (std::string_view tenant : tenants) {
    const TenantCredit* acct = account(tenant);
    if (acct == nullptr) continue;
    Decimal before, after;
    for (const auto& lot : acct->lots) {
      before = add(before, spendable(before_group(*lot)));
      after = add(after, spendable(lot->record));
    }
    if (before > Decimal() && after <= Decimal())
      out.push_back({std::string(tenant), std::nullopt, before, after});
    for (const Rule& rule : acct->rules) {
      if (before < rule.threshold || after >= rule.threshold) continue;
      bool awaiting = std::any_of(acct->lots.begin(), acct->lots.end(), [&](const auto& lot) {
        const Lot& l = lot->record.lot;
        return l.rule_id == rule.id && l.awaits_payment && !l.voided_at;
      });
      if (rule.kind == RuleKind::kTopUp && awaiting) continue;
      out.push_back({std::string(tenant), rule, before, after});
    }
  }
  return out;
}

void CreditBook::end_group() {
  group_burning_ = 0;
  line_undo_.clear();
  lot_undo_.clear();
  ++generation_;
}

void CreditBook::rollback() {
  MutexLock lock(mutex_);
  // The copies were taken before the group touched each line, so its group sums go too.
  for (auto it = line_undo_.rbegin(); it != line_undo_.rend(); ++it) *it->first = std::move(it->second);
  for (auto it = lot_undo_.rbegin(); it != lot_undo_.rend(); ++it) it->first->record = std::move(it->second);
  end_group();
}

void CreditBook::settle() {
  MutexLock lock(mutex_);
  burning_events_.fetch_add(group_burning_, std::memory_order_relaxed);
  for (auto& [line, copy] : line_undo_) {
    line->group_burnt.clear();
    line->group_due = Decimal();
  }
  end_group();
}

std::vector<Entry> CreditBook::journal() const {
  MutexLock lock(mutex_);
  std::vector<Entry> entries;
  for (const auto& [line, copy] : line_undo_) {
    const LineKey& k = *line->key;
    auto entry = [&](Account account, const LotState* lot, Decimal amount) {
      entries.push_back(
          {k.tenant, account, lot != nullptr ? lot->record.lot.id : "", k.month, k.event_type, amount});
    };
    for (const auto& [lot, amount] : line->group_burnt) {
      if (amount.is_zero()) continue;
      entry(Account::kCredit, lot, neg(amount));
      entry(Account::kUsage, lot, amount);
    }
    if (!line->group_due.is_zero()) {
      entry(Account::kDue, nullptr, neg(line->group_due));
      entry(Account::kUsage, nullptr, line->group_due);
    }
  }
  return entries;
}

void CreditBook::apply(std::span<const Entry> entries) {
  MutexLock lock(mutex_);
  hot_.valid = false;
  for (const Entry& e : entries) {
    if (e.account != Account::kUsage || e.grant_id.empty()) continue;
    TenantCredit* acct = account(e.tenant_id);
    if (acct == nullptr) continue;
    auto lot = std::find_if(acct->lots.begin(), acct->lots.end(),
                            [&](const auto& l) { return l->record.lot.id == e.grant_id; });
    if (lot == acct->lots.end()) continue;
    (*lot)->record.consumed = add((*lot)->record.consumed, e.amount);
    auto line = lines_.find(LineKey{e.tenant_id, e.event_type, e.month});
    if (line != lines_.end()) add_to(line->second.burnt, lot->get(), e.amount);
  }
}

std::int64_t CreditBook::next_seq() const {
  MutexLock lock(mutex_);
  return max_seq_ + 1;
}

std::vector<std::string> CreditBook::tenants() const {
  MutexLock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [tenant, acct] : accounts_) out.push_back(tenant);
  return out;
}

bool CreditBook::has_credit(std::string_view tenant) const {
  MutexLock lock(mutex_);
  return account(tenant) != nullptr;
}

std::size_t CreditBook::accounts() const {
  MutexLock lock(mutex_);
  return accounts_.size();
}

Balance balance_of(std::string tenant, Enforcement enforcement, std::vector<LotRecord> lots, Timestamp at) {
  std::stable_sort(lots.begin(), lots.end(),
                   [](const LotRecord& a, const LotRecord& b) { return burns_before(a.lot, b.lot); });
  Balance b{std::move(tenant), enforcement, std::move(lots), {}};
  for (const auto& r : b.lots) {
    Decimal left = r.remaining();
    if (r.lot.usable_at(at) && left > Decimal()) b.available = add(b.available, left);
  }
  return b;
}

std::optional<Balance> CreditBook::balance(std::string_view tenant, Timestamp at) const {
  MutexLock lock(mutex_);
  const TenantCredit* acct = account(tenant);
  if (acct == nullptr) return std::nullopt;
  std::vector<LotRecord> lots;
  for (const auto& lot : acct->lots) lots.push_back(lot->record);
  return balance_of(std::string(tenant), acct->enforcement, std::move(lots), at);
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
  static const Line kEmpty;
  auto found = lines_.find(LineKey{e.tenant_id, e.event_type, zone_of_(e.tenant_id).month_key(e.timestamp)});
  auto next = step(found != lines_.end() ? found->second : kEmpty, *m, e);
  if (!next) return fail(next.error());
  q.cost = next->cost;
  if (acct != nullptr) q.available = usable(*acct, e.event_type, e.timestamp);
  bool hard = acct != nullptr && acct->enforcement == Enforcement::kHard;
  q.admitted = !hard || q.cost <= q.available;
  return q;
}

}  // namespace meter::credits

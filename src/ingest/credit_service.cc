#include "ingest/credit_service.h"

#include <algorithm>
#include <future>
#include <map>

namespace meter::ingest {

CreditService::CreditService(const pricing::PriceBook& prices, const quota::QuotaBook& tenants,
                             store::CreditLedger& ledger)
    : prices_(prices),
      ledger_(ledger),
      book_(
          prices, [this](std::string_view tenant) -> const pricing::Plan& { return plan_of(tenant); },
          [&tenants](std::string_view tenant) { return tenants.get(tenant)->zone; }) {}

const pricing::Plan& CreditService::plan_of(std::string_view tenant) const {
  MutexLock lock(plans_mutex_);
  auto it = plans_.find(std::string(tenant));
  return prices_.plan_or_default(it == plans_.end() ? std::string_view() : std::string_view(it->second));
}

Status CreditService::load(const std::vector<std::pair<std::string, std::optional<std::string>>>& plans) {
  {
    MutexLock lock(plans_mutex_);
    for (const auto& [tenant, plan] : plans)
      if (plan) plans_[tenant] = *plan;
  }
  auto enforcements = ledger_.enforcements();
  if (!enforcements) return fail(enforcements.error());
  for (const auto& [tenant, e] : *enforcements) book_.set_enforcement(tenant, e);
  auto lots = ledger_.grants("");
  if (!lots) return fail(lots.error());
  for (auto& record : *lots) book_.add_lot(std::move(record));
  auto rules = ledger_.rules("");
  if (!rules) return fail(rules.error());
  std::map<std::string, std::vector<credits::Rule>> by_tenant;
  for (auto& rule : *rules) by_tenant[rule.tenant_id].push_back(std::move(rule));
  for (auto& [tenant, list] : by_tenant) book_.set_rules(tenant, std::move(list));
  return {};
}

Status CreditService::reload_rules(std::string_view tenant) {
  auto rules = ledger_.rules(tenant);
  if (!rules) return fail(rules.error());
  book_.set_rules(tenant, std::move(*rules));
  return {};
}

Result<CreditService::Added> CreditService::add_rule(const credits::Rule& rule) {
  return in_writer<Added>([&]() -> Result<Added> {
    if (!rule.idempotency_key.empty()) {
      auto before = ledger_.rule_by_key(rule.tenant_id, rule.idempotency_key);
      if (!before) return fail(before.error());
      if (*before) {
        if ((*before)->request_hash != rule.request_hash) {
          return fail(Error{ErrorCode::kConflict,
                            "this Idempotency-Key was used for a different rule (" + (*before)->id +
                                "); use a new key for a new rule",
                            "Idempotency-Key"});
        }
        return Added{**before, false};
      }
    }
    if (auto s = ledger_.put_rule(rule); !s) return fail(s.error());
    if (auto s = reload_rules(rule.tenant_id); !s) return fail(s.error());
    return Added{rule, true};
  });
}

Result<bool> CreditService::delete_rule(std::string_view tenant, std::string_view id, Timestamp now) {
  return in_writer<bool>([&]() -> Result<bool> {
    auto deleted = ledger_.delete_rule(tenant, id, now);
    if (!deleted) return fail(deleted.error());
    if (auto s = reload_rules(tenant); !s) return fail(s.error());
    return *deleted;
  });
}

Result<bool> CreditService::roll_over(const credits::Lot& from, Decimal max, credits::Lot into) {
  return in_writer<bool>([&]() -> Result<bool> {
    auto found = lot(from.tenant_id, from.id);
    if (!found) return fail(found.error());
    auto& record = *found;
    if (!record) return false;
    Decimal amount = std::min(max, std::max(Decimal(), record->remaining()));
    if (amount.is_zero()) return false;
    into.amount = amount;
    auto stored = ledger_.put_rollover(record->lot, amount, into);
    if (!stored) return fail(stored.error());
    if (!*stored) return false;
    book_.roll_over(from.tenant_id, from.id, amount, credits::LotRecord{std::move(into), {}, {}, {}});
    return true;
  });
}

Result<credits::LotRecord> CreditService::activate(std::string_view tenant, std::string_view id,
                                                   Timestamp now) {
  return in_writer<credits::LotRecord>([&]() -> Result<credits::LotRecord> {
    auto record = existing_lot(tenant, id);
    if (!record) return fail(record.error());
    if (!record->lot.awaits_payment) return *record;  // activated before, or never awaited payment
    if (record->lot.voided_at) {
      return fail(Error{
          ErrorCode::kConflict,
          "grant " + std::string(id) + " was voided before its payment arrived; grant the credit anew", ""});
    }
    if (auto s = ledger_.put_activation(record->lot, now); !s) return fail(s.error());
    auto in_book = book_.activate(tenant, id);
    if (!ledger_.shared() && in_book) return *in_book;
    return existing_lot(tenant, id);
  });
}

Result<credits::LotRecord> CreditService::existing_lot(std::string_view tenant, std::string_view id) {
  auto found = lot(tenant, id);  // a shared ledger's: the lot may come from another node
  if (!found) return fail(found.error());
  auto& record = *found;
  if (!record)
    return fail(Error{ErrorCode::kNotFound,
                      "tenant " + std::string(tenant) + " has no grant " + std::string(id), ""});
  return *record;
}

template <class T>
Result<T> CreditService::in_writer(std::function<Result<T>()> change) {
  if (ingestor_ == nullptr) return change();  // not serving yet: nothing burns
  std::promise<Result<T>> done;
  auto result = done.get_future();
  bool queued = ingestor_->run_between_groups([&] { done.set_value(change()); });
  if (!queued)
    return fail(Error::unavailable("meterd is shutting down; retry against another node or later"));
  return result.get();
}

Result<CreditService::Granted> CreditService::grant(credits::Lot lot) {
  return in_writer<Granted>([&]() -> Result<Granted> {
    auto before = ledger_.grant_by_key(lot.tenant_id, lot.idempotency_key);
    if (!before) return fail(before.error());
    if (*before) {
      if ((*before)->lot.request_hash != lot.request_hash) {
        return fail(Error{ErrorCode::kConflict,
                          "this Idempotency-Key was used for a different grant (" + (*before)->lot.id +
                              "); use a new key for a new grant",
                          "Idempotency-Key"});
      }
      auto now = this->lot(lot.tenant_id, (*before)->lot.id);
      if (!now) return fail(now.error());
      return Granted{now->value_or(**before), false};
    }
    auto stored = ledger_.put_grant(std::move(lot));
    if (!stored) return fail(stored.error());
    credits::LotRecord record{*stored, {}, {}, {}};
    book_.add_lot(record);
    return Granted{record, true};
  });
}

Result<credits::LotRecord> CreditService::void_lot(std::string_view tenant, std::string_view id,
                                                   Timestamp now) {
  return in_writer<credits::LotRecord>([&]() -> Result<credits::LotRecord> {
    auto record = existing_lot(tenant, id);
    if (!record) return fail(record.error());
    if (record->lot.voided_at) return *record;
    credits::LotRecord voided = *record;
    voided.voided = voided.remaining();
    voided.lot.voided_at = now;
    if (auto s = ledger_.put_void(voided); !s) return fail(s.error());
    auto in_book = book_.void_lot(tenant, id, now);
    if (!ledger_.shared() && in_book) return *in_book;
    return existing_lot(tenant, id);  // what the store voided, after every node's burns
  });
}

Status CreditService::set_enforcement(std::string_view tenant, credits::Enforcement e) {
  auto done = in_writer<bool>([&]() -> Result<bool> {
    if (auto s = ledger_.put_enforcement(tenant, e); !s) return fail(s.error());
    book_.set_enforcement(tenant, e);
    return true;
  });
  if (!done) return fail(done.error());
  return {};
}

void CreditService::plan_changed(std::string_view tenant, std::optional<std::string> plan) {
  {
    MutexLock lock(plans_mutex_);
    auto it = plans_.find(std::string(tenant));
    if (it == plans_.end() ? !plan : plan == it->second) return;  // no change: nothing to reprice
  }
  (void)in_writer<bool>([&]() -> Result<bool> {
    {
      MutexLock lock(plans_mutex_);
      if (plan)
        plans_[std::string(tenant)] = *plan;
      else
        plans_.erase(std::string(tenant));
    }
    book_.reprice(tenant);
    return true;
  });
}

Status CreditService::book_trueup(std::string_view tenant, int month, std::vector<Applied> lines) {
  // A billing run finalizes every tenant: those without credit cost no trip to the writer.
  if (lines.empty() && !book_.has_credit(tenant)) {
    if (!ledger_.shared()) return {};
    auto b = balance(tenant, Timestamp{});  // another node's tenant, perhaps
    if (!b) return fail(b.error());
    if (!*b) return {};
  }
  auto done = in_writer<bool>([&]() -> Result<bool> {
    std::vector<credits::Entry> entries;
    std::string owner(tenant);
    for (const Applied& a : lines) {
      Decimal change = a.applied.checked_sub(a.burnt).value_or(Decimal());
      if (change > Decimal()) {
        auto found = lot(tenant, a.grant_id);
        if (!found) return fail(found.error());
        const auto& lot = *found;
        Decimal held = lot ? std::max(Decimal(), lot->remaining()) : Decimal();
        change = std::min(change, held);
      }
      if (change.is_zero()) continue;
      entries.push_back({owner, credits::Account::kCredit, a.grant_id, month, a.event_type,
                         Decimal::from_units(-change.units())});
      entries.push_back({owner, credits::Account::kUsage, a.grant_id, month, a.event_type, change});
    }
    book_.close_month(tenant, month);
    if (entries.empty()) return false;
    auto booked = ledger_.put_trueup(tenant, month, entries);
    if (!booked) return fail(booked.error());
    if (*booked) book_.apply(entries);
    return *booked;
  });
  if (!done) return fail(done.error());
  return {};
}

Result<std::optional<credits::Balance>> CreditService::balance(std::string_view tenant, Timestamp at) {
  if (!ledger_.shared()) return book_.balance(tenant, at);
  auto lots = ledger_.grants(tenant);
  if (!lots) return fail(lots.error());
  auto enforcement = ledger_.enforcement(tenant);
  if (!enforcement) return fail(enforcement.error());
  if (lots->empty() && !*enforcement) return std::optional<credits::Balance>();
  return std::optional<credits::Balance>(credits::balance_of(
      std::string(tenant), enforcement->value_or(credits::Enforcement::kSoft), std::move(*lots), at));
}

Result<std::optional<credits::LotRecord>> CreditService::lot(std::string_view tenant, std::string_view id) {
  if (!ledger_.shared()) return book_.lot(tenant, id);
  auto lots = ledger_.grants(tenant);  // the lots alone: no enforcement read, no burn-order sort
  if (!lots) return fail(lots.error());
  for (auto& r : *lots)
    if (r.lot.id == id) return std::optional<credits::LotRecord>(std::move(r));
  return std::optional<credits::LotRecord>();
}

Status CreditService::restore(std::string_view tenant, int month, std::string_view note,
                              const std::vector<credits::Restored>& restored) {
  std::vector<credits::Entry> entries;
  for (const auto& r : restored) {
    entries.push_back(
        {std::string(tenant), credits::Account::kCredit, r.grant_id, month, r.event_type, r.amount});
    entries.push_back({std::string(tenant), credits::Account::kUsage, r.grant_id, month, r.event_type,
                       Decimal::from_units(-r.amount.units())});
  }
  auto done = in_writer<bool>([&]() -> Result<bool> {
    auto booked = ledger_.put_restore(tenant, note, entries);
    if (!booked) return fail(booked.error());
    if (*booked) book_.apply(entries);
    return *booked;
  });
  if (!done) return fail(done.error());
  return {};
}

Result<credits::Quote> CreditService::quote(const Event& e) {
  return in_writer<credits::Quote>([&]() -> Result<credits::Quote> {
    if (admission_ != nullptr) {
      const Event* events[] = {&e};
      if (auto s = admission_->load_months(events); !s) return fail(s.error());
    }
    return book_.quote(e);
  });
}

}  // namespace meter::ingest

#include "ingest/credit_admission.h"

namespace meter::ingest {

Status CreditAdmission::prepare(std::span<const Event* const> group) {
  stored_elsewhere_.clear();
  if (ledger_.shared()) {
    if (auto s = sync_shared(group); !s) return s;
  } else if (inner_ != nullptr) {
    if (auto s = inner_->prepare(group); !s) return s;
  }
  return load_months(group);
}

void CreditAdmission::changed_elsewhere(std::vector<std::string> tenants) {
  MutexLock lock(changed_mutex_);
  changed_.insert(std::make_move_iterator(tenants.begin()), std::make_move_iterator(tenants.end()));
}

Status CreditAdmission::sync_shared(std::span<const Event* const> group) {
  std::set<std::string> reloads;
  {
    MutexLock lock(changed_mutex_);
    reloads.swap(changed_);
  }
  auto requeue = [&] {
    if (!reloads.empty()) changed_elsewhere({reloads.begin(), reloads.end()});
  };
  // The quotas' locks first: every writer takes them before the credit counts.
  if (inner_ != nullptr) {
    if (auto s = inner_->prepare(group); !s) {
      requeue();
      return s;
    }
  }
  std::set<std::string> tenants = reloads;  // changed ones are counted too: others reload them
  for (const Event* e : group)
    if (book_.has_credit(e->tenant_id)) tenants.insert(e->tenant_id);
  if (tenants.empty()) return {};
  std::vector<std::string> counted(tenants.begin(), tenants.end());
  std::vector<const Event*> theirs;
  for (const Event* e : group)
    if (tenants.contains(e->tenant_id)) theirs.push_back(e);
  auto sync = ledger_.sync_group(counted, theirs);
  if (!sync) {
    requeue();
    return fail(sync.error());
  }
  for (std::size_t i = 0; i < counted.size(); ++i) {
    const std::string& tenant = counted[i];
    std::int64_t before = sync->before[i];
    auto known = counts_.find(tenant);
    if (known == counts_.end() || known->second != before || reloads.contains(tenant)) {
      counts_.erase(tenant);  // until reloaded
      if (auto s = reload(tenant); !s) {
        requeue();
        return s;
      }
    }
    counts_[tenant] = before + 1;  // this group's count, once it commits
  }
  for (std::size_t i = 0; i < theirs.size(); ++i)
    if (sync->stored[i]) stored_elsewhere_.insert(theirs[i]);
  return {};
}

Status CreditAdmission::reload(const std::string& tenant) {
  auto lots = ledger_.grants(tenant);
  if (!lots) return fail(lots.error());
  auto rules = ledger_.rules(tenant);
  if (!rules) return fail(rules.error());
  auto enforcement = ledger_.enforcement(tenant);
  if (!enforcement) return fail(enforcement.error());
  book_.reset_tenant(tenant, *enforcement, std::move(*lots), std::move(*rules));
  return {};
}

Status CreditAdmission::load_months(std::span<const Event* const> events) {
  for (const Event* e : events) {
    auto month = book_.month_to_load(*e);
    if (!month) continue;
    if (finalized_) {
      auto closed = finalized_(e->tenant_id, *month);
      if (!closed) return fail(closed.error());
      if (*closed) {
        book_.close_month(e->tenant_id, *month);
        continue;
      }
    }
    auto usage = usage_(e->tenant_id, *month);
    if (!usage) return fail(usage.error());
    auto ledger = ledger_.month_ledger(e->tenant_id, *month);
    if (!ledger) return fail(ledger.error());
    book_.load_month(e->tenant_id, *month, *usage, *ledger);
  }
  return {};
}

std::optional<Error> CreditAdmission::admit(const Event& event) {
  // Another writer stored it (and burnt for it): the store reports it already stored.
  if (!stored_elsewhere_.empty() && stored_elsewhere_.contains(&event))
    return inner_ != nullptr ? inner_->admit(event) : std::nullopt;
  if (inner_ == nullptr) return book_.admit(event);
  return book_.admit(event, [&] { return inner_->admit(event); });
}

Status CreditAdmission::before_append() {
  if (inner_ != nullptr) {
    if (auto s = inner_->before_append(); !s) return s;
  }
  store::StagedCredit staged;
  staged.burns = book_.journal();
  if (!staged.burns.empty()) fire(staged);
  if (!staged.empty()) ledger_.stage(std::move(staged));
  return {};
}

void CreditAdmission::fire(store::StagedCredit& staged) {
  Timestamp now = clock_.now();
  std::int64_t seq = book_.next_seq();
  auto next_seq = [&]() -> std::int64_t {
    auto shared = ledger_.lot_seq(seq);  // one no other writer gives
    return shared ? *shared : seq;
  };
  for (auto& c : book_.crossings(now)) {
    std::string currency = currency_of_(c.tenant_id);
    std::vector<std::pair<std::string_view, std::string>> fields = {{"currency", currency},
                                                                    {"balance", c.after.to_string()}};
    if (!c.rule) {
      staged.notices.push_back(credits::make_notice(c.tenant_id, "credits.depleted", now, fields));
      continue;
    }
    const credits::Rule& rule = *c.rule;
    fields.emplace_back("rule_id", rule.id);
    fields.emplace_back("threshold", rule.threshold.to_string());
    if (rule.kind == credits::RuleKind::kLowBalance) {
      staged.notices.push_back(credits::make_notice(c.tenant_id, "credits.low", now, fields));
      continue;
    }
    // A top-up: a lot that awaits its payment (POST .../activate), covering the month's late
    // events like any grant.
    quota::Zone zone = book_.zone_of(c.tenant_id);
    std::optional<Timestamp> expires;
    if (!rule.expires_after.empty()) expires = zone.add_duration(now, rule.expires_after);
    credits::Lot lot = rule.lot("top-up", "", zone.period_start(quota::Period::kMonth, now), expires, now);
    lot.idempotency_key = lot.request_hash = "rule:" + rule.id + ":" + lot.id;  // each crossing anew
    lot.seq = next_seq();
    seq = lot.seq + 1;
    lot.awaits_payment = true;
    fields.emplace_back("grant_id", lot.id);
    fields.emplace_back("amount", lot.amount.to_string());
    staged.notices.push_back(credits::make_notice(c.tenant_id, "credits.topup_requested", now, fields));
    staged.lots.push_back(std::move(lot));
  }
  fired_lots_ = staged.lots;
  fired_notices_ = staged.notices;
}

void CreditAdmission::rollback() {
  book_.rollback();
  fired_lots_.clear();
  fired_notices_.clear();
  if (inner_ != nullptr) inner_->rollback();
}

void CreditAdmission::settle() {
  book_.settle();
  for (auto& lot : fired_lots_) book_.add_lot(credits::LotRecord{std::move(lot), {}, {}, {}});
  fired_lots_.clear();
  if (!fired_notices_.empty() && on_notices_) on_notices_(std::move(fired_notices_));
  fired_notices_.clear();
  if (inner_ != nullptr) inner_->settle();
}

void CreditAdmission::uncount(const Event& event) {
  if (inner_ != nullptr) inner_->uncount(event);
}

}  // namespace meter::ingest

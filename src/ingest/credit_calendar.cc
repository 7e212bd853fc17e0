#include "ingest/credit_calendar.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace meter::ingest {
namespace {

int next_month(int month) { return month % 100 == 12 ? (month / 100 + 1) * 100 + 1 : month + 1; }

// The instant the local month (YYYYMM) begins.
Timestamp month_start(const quota::Zone& zone, int month) {
  return zone.midnight_of(*parse_date(fmt::format("{:04}-{:02}-01", month / 100, month % 100)));
}

constexpr int kExpiryHorizonsDays[] = {30, 7};

}  // namespace

Status CreditCalendar::run_rule(const credits::Rule& rule, Timestamp now) {
  if (rule.kind != credits::RuleKind::kRecurring) return {};
  quota::Zone zone = credits_.book().zone_of(rule.tenant_id);
  int current = zone.month_key(now);
  int month = rule.starts;
  {
    MutexLock lock(mutex_);
    if (auto it = done_.find(rule.id); it != done_.end()) month = next_month(it->second);
    // This month's lot is booked: nothing to do until the month ends (no writer hop per run).
    if (auto it = granted_.find(rule.id); month == current && it != granted_.end() && it->second == current)
      return {};
  }
  for (; month <= current; month = next_month(month)) {
    credits::Lot lot = rule.lot(fmt::format("{:04}-{:02}", month / 100, month % 100),
                                fmt::format("rule:{}:{}", rule.id, month), month_start(zone, month),
                                month_start(zone, next_month(month)), now);
    auto granted = credits_.grant(lot);
    if (!granted) return fail(granted.error());
    if (month == current) {  // its rollover waits for the month's end
      MutexLock lock(mutex_);
      granted_[rule.id] = current;
      break;
    }
    if (rule.rollover_max) {
      credits::Lot into =
          rule.lot(fmt::format("rollover of {}", lot.name), fmt::format("rollover:{}:{}", rule.id, month),
                   *lot.expires_at, zone.add_duration(*lot.expires_at, rule.rollover_expires_after), now);
      into.priority = rule.rollover_priority;
      auto rolled = credits_.roll_over(granted->record.lot, *rule.rollover_max, std::move(into));
      if (!rolled) return fail(rolled.error());
    }
    MutexLock lock(mutex_);
    done_[rule.id] = month;
  }
  return {};
}

Status CreditCalendar::expiry_notices(Timestamp now) {
  std::vector<credits::Notice> fired;
  for (const auto& tenant : credits_.book().tenants()) {
    auto balance = credits_.book().balance(tenant, now);
    if (!balance) continue;
    std::string currency = credits_.plan_of(tenant).currency;
    for (const auto& r : balance->lots) {
      const credits::Lot& l = r.lot;
      Decimal left = r.remaining();
      if (!l.expires_at || !l.usable_at(now) || left <= Decimal()) continue;
      auto until = *l.expires_at - now;
      // The nearest horizon it is inside of: a lot granted 5 days before its expiry gets the
      // 7-day notice only.
      const int* horizon = nullptr;
      for (const int& days : kExpiryHorizonsDays)
        if (until <= std::chrono::days(days)) horizon = &days;
      if (horizon == nullptr) continue;
      std::string ref = fmt::format("{}:P{}D", l.id, *horizon);
      {
        MutexLock lock(mutex_);
        if (noticed_.contains(ref)) continue;  // recorded before: no write per run
      }
      // What it holds as stored: with a shared ledger, after every node's burns.
      auto stored = credits_.lot(tenant, l.id);
      if (!stored) return fail(stored.error());
      if (!*stored || (left = (*stored)->remaining()) <= Decimal()) continue;
      auto notice = credits::make_notice(tenant, "credits.expiring_soon", now,
                                         {{"currency", currency},
                                          {"grant_id", l.id},
                                          {"remaining", left.to_string()},
                                          {"expires_at", format_rfc3339(*l.expires_at)}});
      notice.ref = std::move(ref);
      auto recorded = credits_.ledger().put_notice(notice);
      if (!recorded) return fail(recorded.error());
      {
        MutexLock lock(mutex_);
        noticed_.insert(notice.ref);
      }
      if (*recorded) fired.push_back(std::move(notice));
    }
  }
  if (!fired.empty() && send_) send_(std::move(fired));
  return {};
}

Status CreditCalendar::run() {
  Timestamp now = clock_.now();
  auto rules = credits_.ledger().rules("");
  if (!rules) return fail(rules.error());
  for (const auto& rule : *rules) {
    if (auto s = run_rule(rule, now); !s) return s;
  }
  return expiry_notices(now);
}

void CreditCalendar::start() {
  thread_ = std::thread([this] { loop(); });
}

void CreditCalendar::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CreditCalendar::loop() {
  bool failing = false;
  while (true) {
    auto s = run();
    if (!s && !failing)
      spdlog::warn("cannot book recurring credit and expiry notices (retrying): {}", s.error().message);
    if (s && failing) spdlog::info("recurring credit and expiry notices booked again");
    failing = !s;
    MutexLock lock(mutex_);
    if (stopping_) return;
    (void)wake_.wait_for(mutex_, interval_);
    if (stopping_) return;
  }
}

}  // namespace meter::ingest

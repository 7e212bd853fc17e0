// `meterd reconcile`'s proof of prepaid credit (docs/credits.md): the ledger against itself,
// its projections and the raw events.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "cli/billing_context.h"
#include "cli/commands.h"
#include "pricing/charge.h"

namespace meter::cli {
namespace {

Decimal add(Decimal a, Decimal b) { return a.checked_add(b).value_or(a); }

struct Problems {
  int count = 0;
  void report(const std::string& what) {
    if (count++ == 0) std::printf("\ncredit ledger problems:\n");
    std::printf("  %s\n", what.c_str());
  }
};

// What the ledger says of one tenant: each lot's credit, and each line's usage by lot.
struct Replayed {
  std::int64_t transactions = 0;
  std::map<std::string, Decimal> credit;                               // by grant
  std::map<std::tuple<int, std::string, std::string>, Decimal> usage;  // (month, type, grant)
};

Result<Replayed> replay(store::CreditLedger& ledger, const std::string& tenant, Problems& problems) {
  Replayed r;
  auto txns = store::all_transactions(ledger, tenant);
  if (!txns) return fail(txns.error());
  for (const auto& txn : *txns) {
    ++r.transactions;
    Decimal sum;
    for (const auto& e : txn.entries) {
      sum = add(sum, e.amount);
      if (e.account == credits::Account::kCredit) r.credit[e.grant_id] = add(r.credit[e.grant_id], e.amount);
      if (e.account == credits::Account::kUsage) {
        Decimal& u = r.usage[{e.month, e.event_type, e.grant_id}];
        u = add(u, e.amount);
      }
    }
    if (!sum.is_zero()) {
      problems.report(fmt::format("tenant {}: transaction {} ({}) sums to {}, not 0", tenant, txn.id,
                                  txn.kind, sum.to_string()));
    }
  }
  return r;
}

}  // namespace

int report_credits(Billing& b, const std::string& only_tenant) {
  store::CreditLedger& ledger = b.stores->credit_ledger();
  auto lots = ledger.grants(only_tenant);
  if (!lots) {
    std::fprintf(stderr, "meterd reconcile: %s\n", lots.error().message.c_str());
    return 1;
  }
  std::map<std::string, std::vector<const credits::LotRecord*>> by_tenant;
  for (const auto& r : *lots) by_tenant[r.lot.tenant_id].push_back(&r);
  Problems problems;
  std::int64_t transactions = 0, lines = 0;
  for (const auto& [tenant, tenant_lots] : by_tenant) {
    auto replayed = replay(ledger, tenant, problems);
    if (!replayed) {
      std::fprintf(stderr, "meterd reconcile: %s\n", replayed.error().message.c_str());
      return 1;
    }
    transactions += replayed->transactions;
    // Each lot: what the ledger left in it is what the projections say, and never below zero.
    for (const auto* r : tenant_lots) {
      Decimal in_ledger = replayed->credit[r->lot.id];
      if (in_ledger != r->remaining() || in_ledger.is_negative()) {
        problems.report(fmt::format("tenant {}: grant {} holds {} by the ledger, {} by its projection",
                                    tenant, r->lot.id, in_ledger.to_string(), r->remaining().to_string()));
      }
    }
    // Each month's lines: the projection the writer loads equals the ledger, and what the lines
    // burnt or left due never exceeds their exact price from the raw events.
    std::set<int> months;
    for (const auto& [key, amount] : replayed->usage) months.insert(std::get<0>(key));
    for (int month : months) {
      auto projection = ledger.month_ledger(tenant, month);
      auto period = b.invoicer->period(tenant, month / 100, month % 100);
      auto raw = b.invoicer->usage(tenant, period.start, period.end, billing::UsageSource::kRawEvents);
      auto plan = b.stores->records().plan(tenant);
      if (!projection || !raw || !plan) {
        std::fprintf(stderr, "meterd reconcile: cannot read tenant %s's month %d\n", tenant.c_str(), month);
        return 1;
      }
      std::map<std::string, Decimal> line_usage;
      for (const auto& [key, amount] : replayed->usage) {
        const auto& [m, type, grant] = key;
        if (m != month) continue;
        line_usage[type] = add(line_usage[type], amount);
        Decimal projected =
            grant.empty() ? (projection->due.contains(type) ? projection->due.at(type) : Decimal())
                          : (projection->burnt.contains({grant, type}) ? projection->burnt.at({grant, type})
                                                                       : Decimal());
        if (projected != amount) {
          problems.report(fmt::format("tenant {} {}-{:02} {} grant '{}': ledger {} against projection {}",
                                      tenant, month / 100, month % 100, type, grant, amount.to_string(),
                                      projected.to_string()));
        }
      }
      const pricing::Plan& p = b.book.plan_or_default(plan->value_or(""));
      for (const auto& [type, used] : line_usage) {
        ++lines;
        if (type == credits::kMinimumLine) {
          // Credit that paid the minimum commitment: never more than the commitment.
          if (used > p.minimum_commitment) {
            problems.report(fmt::format("tenant {} {}-{:02}: credit {} paid for a minimum commitment of {}",
                                        tenant, month / 100, month % 100, used.to_string(),
                                        p.minimum_commitment.to_string()));
          }
          continue;
        }
        const pricing::MeterPrice* price = p.find(type);
        auto quantity = raw->find({type, ""});
        // The line's price: exact, or rounded once a finalized invoice's true-up was booked.
        Decimal q = quantity == raw->end() ? Decimal() : std::max(quantity->second, Decimal());
        auto exact = price != nullptr ? pricing::exact_amount(*price, q) : Result<Decimal>(Decimal());
        auto rounded =
            price != nullptr ? pricing::charge(*price, q, p) : Result<pricing::Charge>(pricing::Charge{});
        if (!exact || !rounded || used > std::max(*exact, rounded->amount)) {
          problems.report(fmt::format(
              "tenant {} {}-{:02} {}: burnt and due {} exceed the price {} of the raw events", tenant,
              month / 100, month % 100, type, used.to_string(), exact ? exact->to_string() : "(unpriced)"));
        }
      }
    }
  }
  if (by_tenant.empty()) return 0;  // no tenant has credit: nothing to report
  std::printf(
      "credit ledger: %lld transaction(s) of %zu tenant(s) checked, %zu grant(s), %lld line(s); %d "
      "problem(s)\n",
      static_cast<long long>(transactions), by_tenant.size(), lots->size(), static_cast<long long>(lines),
      problems.count);
  if (problems.count > 0) {
    std::printf(
        "a problem here means the ledger and what it is built from disagree: keep the data folder and "
        "report it\n");
  }
  return problems.count == 0 ? 0 : 1;
}

}  // namespace meter::cli

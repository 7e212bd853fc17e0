#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/time.h"
#include "credits/lot.h"

namespace meter::credits {

// What a rule does (docs/credits.md): low_balance sends credits.low when the tenant's balance
// falls below its threshold; top_up also asks for a top-up then (a lot that awaits payment);
// recurring grants a lot every local month, and may roll what is left into the next.
enum class RuleKind { kLowBalance, kTopUp, kRecurring };
std::optional<RuleKind> parse_rule_kind(std::string_view name);
std::string_view rule_kind_name(RuleKind k);

// A standing instruction about a tenant's credit. Its definition never changes; a delete ends it.
struct Rule {
  std::string id;
  std::string tenant_id;
  RuleKind kind = RuleKind::kLowBalance;
  Decimal threshold;  // low_balance, top_up: the balance it watches for
  // top_up, recurring: the lot it grants.
  Decimal amount;
  Category category = Category::kPaid;
  int priority = 50;
  std::vector<std::string> scope;  // sorted event types; empty: every priced meter
  std::string expires_after;       // top_up: an ISO 8601 duration (P1Y); empty: never
  // recurring: the first local month (YYYYMM) and what rolls over when a month's lot ends.
  int starts = 0;
  std::optional<Decimal> rollover_max;
  int rollover_priority = 50;
  std::string rollover_expires_after;  // from the start of the month it rolls into
  Timestamp created_at;
  std::string idempotency_key;  // the creating request's Idempotency-Key, if it sent one
  std::string request_hash;     // of its body: the same key with another body is a conflict

  // Whether it watches the balance (and fires when a burn takes it below threshold).
  bool watches_balance() const { return kind != RuleKind::kRecurring; }
  // A lot it grants (top_up, recurring): its amount and terms, for its tenant, a new id, granted
  // at `now`; keyed by `key` (its idempotency key and request hash).
  Lot lot(std::string name, std::string key, Timestamp effective_at, std::optional<Timestamp> expires_at,
          Timestamp now) const;
};

}  // namespace meter::credits

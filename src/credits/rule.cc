#include "credits/rule.h"

#include "core/identifier.h"

namespace meter::credits {

Lot Rule::lot(std::string name, std::string key, Timestamp effective, std::optional<Timestamp> expires,
              Timestamp now) const {
  Lot l;
  l.id = "grant_" + new_event_id(now);
  l.tenant_id = tenant_id;
  l.name = std::move(name);
  l.amount = amount;
  l.category = category;
  l.priority = priority;
  l.scope = scope;
  l.effective_at = effective;
  l.expires_at = expires;
  l.created_at = now;
  l.rule_id = id;
  l.idempotency_key = key;
  l.request_hash = std::move(key);
  return l;
}

std::optional<RuleKind> parse_rule_kind(std::string_view name) {
  if (name == "low_balance") return RuleKind::kLowBalance;
  if (name == "top_up") return RuleKind::kTopUp;
  if (name == "recurring") return RuleKind::kRecurring;
  return std::nullopt;
}

std::string_view rule_kind_name(RuleKind k) {
  switch (k) {
    case RuleKind::kLowBalance:
      return "low_balance";
    case RuleKind::kTopUp:
      return "top_up";
    case RuleKind::kRecurring:
      return "recurring";
  }
  return "";
}

}  // namespace meter::credits

#include "credits/rule.h"

namespace meter::credits {

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

#include "credits/ledger.h"

#include <array>
#include <utility>

namespace meter::credits {
namespace {

constexpr std::array<std::pair<Enforcement, std::string_view>, 3> kEnforcements{
    {{Enforcement::kOff, "off"}, {Enforcement::kSoft, "soft"}, {Enforcement::kHard, "hard"}}};
constexpr std::array<std::pair<Account, std::string_view>, 5> kAccounts{{{Account::kFunding, "funding"},
                                                                         {Account::kCredit, "credit"},
                                                                         {Account::kUsage, "usage"},
                                                                         {Account::kDue, "due"},
                                                                         {Account::kVoided, "voided"}}};

template <class T, std::size_t N>
std::optional<T> by_name(const std::array<std::pair<T, std::string_view>, N>& names, std::string_view name) {
  for (const auto& [value, text] : names)
    if (text == name) return value;
  return std::nullopt;
}

template <class T, std::size_t N>
std::string_view name_of(const std::array<std::pair<T, std::string_view>, N>& names, T value) {
  for (const auto& [v, text] : names)
    if (v == value) return text;
  return "";
}

}  // namespace

std::optional<Enforcement> parse_enforcement(std::string_view name) { return by_name(kEnforcements, name); }
std::string_view enforcement_name(Enforcement e) { return name_of(kEnforcements, e); }
std::optional<Account> parse_account(std::string_view name) { return by_name(kAccounts, name); }
std::string_view account_name(Account a) { return name_of(kAccounts, a); }

Decimal LotRecord::remaining() const {
  if (lot.awaits_payment) return Decimal();
  auto spent = consumed.checked_add(voided).value_or(consumed);
  spent = spent.checked_add(rolled).value_or(spent);
  return lot.amount.checked_sub(spent).value_or(lot.amount);
}

}  // namespace meter::credits

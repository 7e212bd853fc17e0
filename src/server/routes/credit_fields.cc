#include "server/routes/credit_fields.h"

#include <algorithm>
#include <string>

#include "core/identifier.h"

namespace meter::server {

Result<int> read_priority(const JsonBody& body, std::string_view key, int fallback) {
  auto value = body.integer(key);
  if (!value) return fail(value.error());
  if (!*value) return fallback;
  if (**value < 0 || **value > 100)
    return fail(Error::invalid(std::string(key), std::string(key) + " must be 0 to 100"));
  return static_cast<int>(**value);
}

Status read_lot_terms(const JsonBody& body, credits::Category& category, int& priority,
                      std::vector<std::string>& scope) {
  auto text = body.string("category");
  if (!text) return fail(text.error());
  if (*text) {
    auto parsed = credits::parse_category(**text);
    if (!parsed) return fail(Error::invalid("category", "category must be paid or promotional"));
    category = *parsed;
  }
  auto p = read_priority(body, "priority", priority);
  if (!p) return fail(p.error());
  priority = *p;
  auto types = body.strings("scope");
  if (!types) return fail(types.error());
  if (*types) {
    for (const auto& type : **types)
      if (auto bad = check_identifier(type)) return fail(Error::invalid("scope", "scope: " + *bad));
    scope = **types;
    std::sort(scope.begin(), scope.end());
    scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  }
  return {};
}

}  // namespace meter::server

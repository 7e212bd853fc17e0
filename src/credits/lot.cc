#include "credits/lot.h"

#include <algorithm>
#include <tuple>

namespace meter::credits {

std::optional<Category> parse_category(std::string_view name) {
  if (name == "paid") return Category::kPaid;
  if (name == "promotional") return Category::kPromotional;
  return std::nullopt;
}

std::string_view category_name(Category c) { return c == Category::kPaid ? "paid" : "promotional"; }

bool Lot::covers(std::string_view event_type) const {
  return scope.empty() || std::binary_search(scope.begin(), scope.end(), event_type);
}

bool Lot::usable_at(Timestamp t) const {
  return !awaits_payment && !voided_at && effective_at <= t && (!expires_at || t < *expires_at);
}

bool burns_before(const Lot& a, const Lot& b) {
  // Global lots rank after every scoped one; never-expiring after every expiring one.
  auto key = [](const Lot& l) {
    std::size_t width = l.scope.empty() ? SIZE_MAX : l.scope.size();
    auto expiry = l.expires_at ? to_unix_ms(*l.expires_at) : INT64_MAX;
    int paid = l.category == Category::kPaid ? 1 : 0;
    return std::tuple(l.priority, width, expiry, paid, to_unix_ms(l.effective_at), l.seq);
  };
  return key(a) < key(b);
}

std::string join_scope(const std::vector<std::string>& scope) {
  std::string out;
  for (const auto& type : scope) {
    if (!out.empty()) out += ',';
    out += type;
  }
  return out;
}

std::vector<std::string> split_scope(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace meter::credits

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/time.h"

namespace meter::credits {

// Paid credit was bought; promotional credit was given (it is spent first at equal priority
// and expiry, docs/credits.md).
enum class Category { kPaid, kPromotional };
std::optional<Category> parse_category(std::string_view name);
std::string_view category_name(Category c);
// A scope as stored: its event types, sorted, comma-separated ('' = every priced meter).
std::string join_scope(const std::vector<std::string>& scope);
std::vector<std::string> split_scope(std::string_view text);

// One grant of prepaid credit (a lot): an amount of the tenant's plan currency it may spend on
// usage between effective_at and expires_at (exclusive), on every priced meter or only on
// those in `scope`. The definition never changes once granted; a void ends it.
struct Lot {
  std::string id;
  std::string tenant_id;
  std::string name;
  Decimal amount;
  Category category = Category::kPromotional;
  int priority = 50;               // 0..100; lower is spent first
  std::vector<std::string> scope;  // sorted event types; empty: every priced meter
  Timestamp effective_at;
  std::optional<Timestamp> expires_at;
  Timestamp created_at;
  std::optional<Timestamp> voided_at;
  std::int64_t seq = 0;         // creation order in the store: the last tie-breaker
  std::string idempotency_key;  // the creating request's Idempotency-Key
  std::string request_hash;     // of its body: the same key with another body is a conflict
  std::string rule_id;          // the rule that granted it (docs/credits.md), or empty
  // A top-up waiting for its payment: not credited, not spendable until activated.
  bool awaits_payment = false;

  bool covers(std::string_view event_type) const;
  // Whether an event at t may draw from it: credited (not awaiting payment), effective, not yet
  // expired, and not voided at all (a void stops every later burn, whatever the event's
  // timestamp).
  bool usable_at(Timestamp t) const;
};

// The burn order, a total order: priority ascending; scoped before global (fewer meters
// first); sooner expiry first, never-expiring last; promotional before paid; earlier
// effective_at; creation order.
bool burns_before(const Lot& a, const Lot& b);

}  // namespace meter::credits

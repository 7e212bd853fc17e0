#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace meter {

// Tenant ids, event types and event ids: 1..kMaxIdentifierLength characters from
// [A-Za-z0-9._:@/+=-], so they are safe in URLs, file names, SQL literals and logs.
inline constexpr std::size_t kMaxIdentifierLength = 128;

// Returns an explanation when `value` is not a valid identifier, nullopt when it is.
std::optional<std::string> check_identifier(std::string_view value);

inline constexpr std::size_t kEventIdLength = 36;

// A new UUIDv7 ("0193…-7…"): time-ordered, 74 random bits. Thread-safe.
std::string new_event_id(Timestamp now);
// The same, written to `out` without allocating (for meter::Tracker's track()).
void write_event_id(Timestamp now, char (&out)[kEventIdLength]);

}  // namespace meter

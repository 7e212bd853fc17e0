#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meter {

// Instants are UTC milliseconds since the Unix epoch; that is what the stores keep.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t to_unix_ms(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp from_unix_ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

// Parses RFC 3339 ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123+05:30"; fractions beyond
// milliseconds are truncated). A lowercase 't'/'z' and a space instead of 'T' are accepted.
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// Parses a calendar date "YYYY-MM-DD" as midnight UTC.
std::optional<Timestamp> parse_date(std::string_view text);

// Formats as RFC 3339 in UTC with millisecond precision: "2026-11-27T10:00:00.000Z".
std::string format_rfc3339(Timestamp t);

// kQuarterHour is internal (not an API window): every time zone's midnight falls on a quarter
// hour, so quarter-hour sums make any zone's month exact without reading raw events.
enum class Window { kQuarterHour, kHour, kDay, kMonth };
std::optional<Window> parse_window(std::string_view name);
std::string_view window_name(Window w);

// Start of the UTC quarter hour, hour, day or month containing t.
Timestamp floor_to(Window w, Timestamp t);
// Start of the next window after the one containing t.
Timestamp next_window(Window w, Timestamp t);

// The UTC month containing t as YYYYMM, e.g. 202611.
int month_key(Timestamp t);
// The first instant of the UTC month YYYYMM (month_key's inverse).
Timestamp month_start(int month);

}  // namespace meter

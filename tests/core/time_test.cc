#include "core/time.h"

#include <gtest/gtest.h>

namespace meter {
namespace {

std::int64_t ms(std::string_view text) {
  auto t = parse_rfc3339(text);
  return t ? to_unix_ms(*t) : -1;
}

// Verifies RFC 3339 parsing with zones, fractions and the accepted lenient spellings.
TEST(Time, ParsesRfc3339) {
  EXPECT_EQ(ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ms("2026-11-27T10:00:00Z"), 1795773600000);
  EXPECT_EQ(ms("2026-11-27T10:00:00.123Z"), 1795773600123);
  EXPECT_EQ(ms("2026-11-27T10:00:00.123456789Z"), 1795773600123);
  EXPECT_EQ(ms("2026-11-27T15:30:00+05:30"), 1795773600000);
  EXPECT_EQ(ms("2026-11-27T05:00:00-05:00"), 1795773600000);
  EXPECT_EQ(ms("2026-11-27 10:00:00z"), 1795773600000);
}

// Verifies that impossible dates and malformed text are rejected.
TEST(Time, RejectsMalformedRfc3339) {
  for (const char* bad :
       {"", "2026-11-27", "2026-11-27T10:00:00", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-11-27T24:00:00Z", "2026-11-27T10:00:60Z", "2026-11-27T10:00:00.Z", "2026-11-27T10:00:00+0530",
        "2026-11-27T10:00:00Zx", "26-11-27T10:00:00Z"}) {
    EXPECT_EQ(ms(bad), -1) << bad;
  }
}

// Verifies window floors and the month rollover, leap day included.
TEST(Time, WindowsFloorAndAdvance) {
  auto t = *parse_rfc3339("2024-02-29T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(floor_to(Window::kHour, t)), "2024-02-29T23:00:00.000Z");
  EXPECT_EQ(format_rfc3339(floor_to(Window::kDay, t)), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(floor_to(Window::kMonth, t)), "2024-02-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(next_window(Window::kMonth, t)), "2024-03-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(next_window(Window::kDay, t)), "2024-03-01T00:00:00.000Z");
  EXPECT_EQ(month_key(t), 202402);
  auto dec = *parse_rfc3339("2025-12-31T12:00:00Z");
  EXPECT_EQ(format_rfc3339(next_window(Window::kMonth, dec)), "2026-01-01T00:00:00.000Z");
}

// Verifies that instants before 1970 floor downwards, not towards zero.
TEST(Time, FloorsBeforeEpoch) {
  auto t = *parse_rfc3339("1969-12-31T23:30:00Z");
  EXPECT_EQ(format_rfc3339(floor_to(Window::kDay, t)), "1969-12-31T00:00:00.000Z");
}

}  // namespace
}  // namespace meter

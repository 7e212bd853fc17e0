#include "quota/zone.h"

#include <gtest/gtest.h>

namespace meter::quota {
namespace {

std::string start(const char* zone, Period p, const char* t) {
  return format_rfc3339(Zone::find(zone)->period_start(p, *parse_rfc3339(t)));
}
std::string end(const char* zone, Period p, const char* t) {
  return format_rfc3339(Zone::find(zone)->period_end(p, *parse_rfc3339(t)));
}

// Verifies a half-hour offset zone: India's day starts at 18:30 UTC the evening before.
TEST(Zone, HalfHourOffset) {
  EXPECT_EQ(start("Asia/Kolkata", Period::kDay, "2026-11-27T20:00:00Z"), "2026-11-27T18:30:00.000Z");
  EXPECT_EQ(start("Asia/Kolkata", Period::kDay, "2026-11-27T18:00:00Z"), "2026-11-26T18:30:00.000Z");
  EXPECT_EQ(start("Asia/Kolkata", Period::kMonth, "2026-11-30T19:00:00Z"), "2026-11-30T18:30:00.000Z");
  EXPECT_EQ(end("Asia/Kolkata", Period::kMonth, "2026-11-15T00:00:00Z"), "2026-11-30T18:30:00.000Z");
}

// Verifies a calendar date's midnight in zones on both sides of UTC, the far east included
// (Kiritimati, UTC+14, whose midnight falls on the previous UTC date).
TEST(Zone, MidnightOfDate) {
  auto midnight = [](const char* zone, const char* date) {
    return format_rfc3339(Zone::find(zone)->midnight_of(*parse_date(date)));
  };
  EXPECT_EQ(midnight("Asia/Kolkata", "2026-11-01"), "2026-10-31T18:30:00.000Z");
  EXPECT_EQ(midnight("America/New_York", "2026-11-01"), "2026-11-01T04:00:00.000Z");
  EXPECT_EQ(midnight("Pacific/Kiritimati", "2026-11-01"), "2026-10-31T10:00:00.000Z");
  EXPECT_EQ(midnight("Pacific/Pago_Pago", "2026-11-01"), "2026-11-01T11:00:00.000Z");
  EXPECT_EQ(midnight("UTC", "2026-11-01"), "2026-11-01T00:00:00.000Z");
}

// Verifies DST change days are 23 and 25 hours long where the zone says so.
TEST(Zone, DstChangeDays) {
  // Europe/Berlin: clocks go forward on 2026-03-29 and back on 2026-10-25.
  EXPECT_EQ(start("Europe/Berlin", Period::kDay, "2026-03-29T12:00:00Z"), "2026-03-28T23:00:00.000Z");
  EXPECT_EQ(end("Europe/Berlin", Period::kDay, "2026-03-29T12:00:00Z"), "2026-03-29T22:00:00.000Z");  // 23 h
  EXPECT_EQ(start("Europe/Berlin", Period::kDay, "2026-10-25T12:00:00Z"), "2026-10-24T22:00:00.000Z");
  EXPECT_EQ(end("Europe/Berlin", Period::kDay, "2026-10-25T12:00:00Z"), "2026-10-25T23:00:00.000Z");  // 25 h
}

// Verifies a zone whose DST jump skips midnight: the day begins when the clocks resume.
TEST(Zone, MidnightInsideGap) {
  // America/Santiago moved clocks from 24:00 to 01:00 on 2026-09-06 (local).
  auto s = start("America/Santiago", Period::kDay, "2026-09-06T12:00:00Z");
  EXPECT_EQ(s, "2026-09-06T04:00:00.000Z");
}

// Verifies unknown zones are an error naming the zone.
TEST(Zone, UnknownZone) {
  auto z = Zone::find("Mars/Olympus");
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().field, "time_zone");
  EXPECT_NE(z.error().message.find("Mars/Olympus"), std::string::npos);
}

}  // namespace
}  // namespace meter::quota

#include "quota/alert.h"

namespace meter::quota {
namespace {

// Verifies thresholds fire when passed or reached exactly, and not when already behind.
TEST(Alert, CrossedThresholds) {
  auto d = [](const char* s) { return *Decimal::parse(s); };
  std::vector<int> t = {80, 100};
  EXPECT_EQ(crossed_thresholds(d("0"), d("7.99"), d("10"), t), std::vector<int>{});
  EXPECT_EQ(crossed_thresholds(d("7.99"), d("8"), d("10"), t), std::vector<int>{80});
  EXPECT_EQ(crossed_thresholds(d("8"), d("9"), d("10"), t), std::vector<int>{});
  EXPECT_EQ(crossed_thresholds(d("7"), d("12"), d("10"), t), (std::vector<int>{80, 100}));
  EXPECT_EQ(crossed_thresholds(d("12"), d("13"), d("10"), t), std::vector<int>{});
  EXPECT_EQ(crossed_thresholds(d("0"), d("1"), d("0"), t), std::vector<int>{});
}

// Verifies calendar arithmetic on the local clock: month ends clamp (never roll into the
// next month), leap years, and a day added across a DST change keeps the wall-clock time.
TEST(Zone, AddsCalendarMonthsAndDays) {
  auto months = [](const char* zone, const char* t, int n) {
    return format_rfc3339(Zone::find(zone)->add_months(*parse_rfc3339(t), n));
  };
  EXPECT_EQ(months("UTC", "2026-01-31T00:00:00Z", 1), "2026-02-28T00:00:00.000Z");
  EXPECT_EQ(months("UTC", "2028-01-31T00:00:00Z", 1), "2028-02-29T00:00:00.000Z");
  EXPECT_EQ(months("UTC", "2026-11-30T10:00:00Z", 3), "2027-02-28T10:00:00.000Z");
  EXPECT_EQ(months("Asia/Kolkata", "2026-01-30T19:00:00Z", 1),
            "2026-02-27T19:00:00.000Z");  // Jan 31 00:30 local
  auto york = Zone::find("America/New_York");
  EXPECT_EQ(format_rfc3339(york->add_days(*parse_rfc3339("2026-03-07T17:00:00Z"), 1)),
            "2026-03-08T16:00:00.000Z");
  EXPECT_EQ(york->month_key(*parse_rfc3339("2026-12-01T03:00:00Z")), 202611);
  EXPECT_EQ(Zone::find("Asia/Kolkata")->month_key(*parse_rfc3339("2026-11-30T19:00:00Z")), 202612);
}

}  // namespace
}  // namespace meter::quota

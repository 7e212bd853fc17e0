#include "billing/gauge.h"

#include <gtest/gtest.h>

namespace meter::billing {
namespace {

Decimal d(std::string_view s) { return *Decimal::parse(s); }
Timestamp at(std::string_view s) { return *parse_rfc3339(s); }

// Golden GB-months over a 30-day month with missing days: a reading holds until the next one.
TEST(Gauge, AverageOfDailyMaximaCarriesForward) {
  quota::Zone utc = quota::Zone::utc();
  Timestamp from = at("2026-11-01T00:00:00Z"), to = at("2026-12-01T00:00:00Z");
  // Days 1-10: nothing (0). Day 11: 10 and 30 (max 30). Days 12-20: carried 30. Day 21: 60,
  // carried to day 30. Sum = 10 * 30 + 10 * 60 = 900; 900 / 30 = 30.
  std::vector<std::pair<Timestamp, Decimal>> readings = {{at("2026-11-11T01:00:00Z"), d("10")},
                                                         {at("2026-11-11T23:45:00Z"), d("30")},
                                                         {at("2026-11-21T12:00:00Z"), d("60")},
                                                         {at("2026-12-01T00:00:00Z"), d("1000")}};  // outside
  EXPECT_EQ(average_daily_max(readings, utc, from, to)->to_string(), "30");
  // A constant 1.5 GB all month is 1.5 GB-months; one reading on day 1 is enough.
  EXPECT_EQ(average_daily_max({{at("2026-11-01T00:00:00Z"), d("1.5")}}, utc, from, to)->to_string(), "1.5");
  EXPECT_EQ(average_daily_max({}, utc, from, to)->to_string(), "0");
  // 100 GB from day 30 only: 100 / 30 = 3.333333333333 (12 digits, half up).
  EXPECT_EQ(average_daily_max({{at("2026-11-30T10:00:00Z"), d("100")}}, utc, from, to)->to_string(),
            "3.333333333333");
  // 200 / 30 = 6.6666666666666 -> 6.666666666667
  EXPECT_EQ(average_daily_max({{at("2026-11-30T10:00:00Z"), d("200")}}, utc, from, to)->to_string(),
            "6.666666666667");
}

// Days are the tenant's local days: a reading at 20:00 UTC is the next day in Asia/Kolkata.
TEST(Gauge, DaysAreLocal) {
  quota::Zone india = *quota::Zone::find("Asia/Kolkata");
  Timestamp from = at("2026-10-31T18:30:00Z"), to = at("2026-11-30T18:30:00Z");  // November in IST
  // 20:00 UTC on Nov 29 is Nov 30 IST: only the last local day has 30 -> 30 / 30 = 1.
  EXPECT_EQ(average_daily_max({{at("2026-11-29T20:00:00Z"), d("30")}}, india, from, to)->to_string(), "1");
}

}  // namespace
}  // namespace meter::billing

#include "billing/invoicer.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::billing {
namespace {

using testing::make_event;
using testing::TempDir;

Timestamp at(const char* text) { return *parse_rfc3339(text); }

// Events around the edges of November in Asia/Kolkata (+05:30: the month starts at 18:30 UTC,
// in the middle of an hour) and in Europe/Berlin (October ends on the DST change day).
class InvoicerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Event> events;
    int n = 0;
    for (const char* t : {"2026-10-31T18:14:59.999Z", "2026-10-31T18:15:00Z", "2026-10-31T18:29:59.999Z",
                          "2026-10-31T18:30:00Z", "2026-10-31T18:45:00Z", "2026-10-31T19:00:00Z",
                          "2026-11-15T12:00:00Z", "2026-11-30T18:29:59.999Z", "2026-11-30T18:30:00Z"}) {
      for (const char* tenant : {"india", "berlin", "utc"}) {
        events.push_back(make_event(tenant, "e" + std::to_string(n++), "query", "1.5", at(t)));
      }
    }
    ASSERT_TRUE(store_.append(events));
    quota::TenantQuota india, berlin;
    india.time_zone = "Asia/Kolkata";
    berlin.time_zone = "Europe/Berlin";
    ASSERT_TRUE(zones_.set("india", india));
    ASSERT_TRUE(zones_.set("berlin", berlin));
  }

  std::string quantity(const std::string& tenant, int year, int month, UsageSource source) {
    auto invoice = invoicer_.build(tenant, year, month, source);
    EXPECT_TRUE(invoice) << invoice.error().message;
    if (!invoice || invoice->lines.empty()) return "0";
    return invoice->lines.front().charge.quantity.to_string();
  }

  TempDir dir_;
  store::sqlite::SqliteStore store_{{dir_ / "meterd.db"}};
  pricing::PriceBook book_ = pricing::price_settings_book(*Decimal::parse("0.01"), *Decimal::parse("0.003"),
                                                          *Decimal::parse("0.015"), *Decimal::parse("0.10"));
  quota::QuotaBook zones_{quota::TenantQuota{}};
  Invoicer invoicer_{store_, store_, book_, zones_};
};

// Verifies each tenant's month takes exactly the events of its local month, the edge quarter
// hours of a +05:30 zone included, and that rollups and raw events agree.
TEST_F(InvoicerTest, MonthEdgesInTheTenantsZone) {
  // Kolkata's November: [2026-10-31T18:30Z, 2026-11-30T18:30Z): 18:30, 18:45, 19:00, 15th, 30th 18:29.
  EXPECT_EQ(quantity("india", 2026, 11, UsageSource::kRollups), "7.5");
  EXPECT_EQ(quantity("india", 2026, 10, UsageSource::kRollups), "4.5");
  // Berlin's November starts at 2026-10-31T23:00Z: the 15th and both 30th events.
  EXPECT_EQ(quantity("berlin", 2026, 11, UsageSource::kRollups), "4.5");
  EXPECT_EQ(quantity("berlin", 2026, 10, UsageSource::kRollups), "9");
  EXPECT_EQ(quantity("utc", 2026, 11, UsageSource::kRollups), "4.5");
  for (const char* tenant : {"india", "berlin", "utc"}) {
    for (int month : {10, 11, 12}) {
      EXPECT_EQ(quantity(tenant, 2026, month, UsageSource::kRollups),
                quantity(tenant, 2026, month, UsageSource::kRawEvents))
          << tenant << " " << month;
    }
  }
}

// Verifies the period of an invoice is the tenant's local month as instants.
TEST_F(InvoicerTest, PeriodIsTheLocalMonth) {
  InvoicePeriod p = invoicer_.period("india", 2026, 11);
  EXPECT_EQ(format_rfc3339(p.start), "2026-10-31T18:30:00.000Z");
  EXPECT_EQ(format_rfc3339(p.end), "2026-11-30T18:30:00.000Z");
  EXPECT_EQ(p.time_zone, "Asia/Kolkata");
  InvoicePeriod b = invoicer_.period("berlin", 2026, 10);
  EXPECT_EQ(format_rfc3339(b.start), "2026-09-30T22:00:00.000Z");  // summer time
  EXPECT_EQ(format_rfc3339(b.end), "2026-10-31T23:00:00.000Z");    // winter time
}

}  // namespace
}  // namespace meter::billing

#include "quota/quota_book.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace meter::quota {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kNov27 = 1795737600000;  // 2026-11-27T00:00:00Z

Decimal dec(std::string_view text) { return *Decimal::parse(text); }

// Verifies one lookup finds both settings and usage, and that new settings keep the usage.
TEST(QuotaBook, FindsSettingsAndUsageTogether) {
  QuotaBook book(TenantQuota{});
  auto unknown = book.find("nobody");
  EXPECT_FALSE(unknown.settings->custom);
  EXPECT_EQ(unknown.usage, nullptr);

  ASSERT_TRUE(book.add({"acme", Meter::kQueries, Period::kDay, kNov27}, dec("3")));
  auto counted = book.find("acme");
  EXPECT_FALSE(counted.settings->custom);
  ASSERT_NE(counted.usage, nullptr);
  EXPECT_EQ(book.used(counted, {"acme", Meter::kQueries, Period::kDay, kNov27}).to_string(), "3");

  TenantQuota q;
  q.time_zone = "Asia/Kolkata";
  ASSERT_TRUE(book.set("acme", q));
  auto updated = book.find("acme");
  EXPECT_TRUE(updated.settings->custom);
  EXPECT_EQ(updated.settings->zone.name(), "Asia/Kolkata");
  EXPECT_EQ(updated.usage, counted.usage);
  EXPECT_EQ(book.used({"acme", Meter::kQueries, Period::kDay, kNov27}).to_string(), "3");
  TenantQuota unknown_zone;
  unknown_zone.time_zone = "Mars/Olympus";
  EXPECT_FALSE(book.set("acme", unknown_zone));
  EXPECT_EQ(book.get("acme")->zone.name(), "Asia/Kolkata");
}

// Verifies sums per (meter, period, start), maxima for gauges, set_used, and overflow refusal.
TEST(QuotaBook, CountsExactlyPerPeriod) {
  QuotaBook book(TenantQuota{});
  CounterKey day{"acme", Meter::kTokens, Period::kDay, kNov27};
  CounterKey next_day{"acme", Meter::kTokens, Period::kDay, kNov27 + kDayMs};
  CounterKey month{"acme", Meter::kTokens, Period::kMonth, kNov27 - 26 * kDayMs};
  EXPECT_EQ(book.add(day, dec("0.1"))->before.to_string(), "0");
  auto second = book.add(day, dec("0.2"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->before.to_string(), "0.1");
  EXPECT_EQ(second->after.to_string(), "0.3");
  ASSERT_TRUE(book.add(next_day, dec("5")));
  ASSERT_TRUE(book.add(month, dec("7")));
  EXPECT_EQ(book.used(day).to_string(), "0.3");
  EXPECT_EQ(book.used(next_day).to_string(), "5");
  EXPECT_EQ(book.used(month).to_string(), "7");
  EXPECT_EQ(book.used({"other", Meter::kTokens, Period::kDay, kNov27}).to_string(), "0");

  CounterKey storage{"acme", Meter::kStorageGb, Period::kDay, kNov27};
  ASSERT_TRUE(book.add(storage, dec("40")));
  auto lower = book.add(storage, dec("12"));
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->after.to_string(), "40");
  EXPECT_EQ(book.used(storage).to_string(), "40");

  book.set_used(day, dec("1"));
  EXPECT_EQ(book.used(day).to_string(), "1");
  auto huge = Decimal::parse("99999999999999999999999999");
  ASSERT_TRUE(huge);
  ASSERT_TRUE(book.add(day, *huge));
  for (int i = 0; i < 100 && book.add(day, *huge); ++i) {
  }
  Decimal before = book.used(day);
  EXPECT_FALSE(book.add(day, *huge));
  EXPECT_EQ(book.used(day), before);
}

// Verifies a tenant's counters for periods older than `keep` before the newest are dropped.
TEST(QuotaBook, DropsPeriodsOlderThanKeep) {
  QuotaBook book(TenantQuota{}, std::chrono::days(10));
  for (int d = 0; d < 40; ++d)
    ASSERT_TRUE(book.add({"acme", Meter::kQueries, Period::kDay, kNov27 + d * kDayMs}, dec("1")));
  EXPECT_EQ(book.used({"acme", Meter::kQueries, Period::kDay, kNov27}).to_string(), "0");
  EXPECT_EQ(book.used({"acme", Meter::kQueries, Period::kDay, kNov27 + 29 * kDayMs}).to_string(), "1");
  EXPECT_EQ(book.used({"acme", Meter::kQueries, Period::kDay, kNov27 + 39 * kDayMs}).to_string(), "1");
}

// Verifies concurrent adds from several threads, over many tenants, are all counted.
TEST(QuotaBook, ConcurrentAddsAreExact) {
  QuotaBook book(TenantQuota{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&book] {
      for (int i = 0; i < 5000; ++i) {
        (void)book.add({"tenant_" + std::to_string(i % 50), Meter::kQueries, Period::kDay, kNov27}, dec("1"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(book.used({"tenant_" + std::to_string(i), Meter::kQueries, Period::kDay, kNov27}).to_string(),
              "400");
  }
}

}  // namespace
}  // namespace meter::quota

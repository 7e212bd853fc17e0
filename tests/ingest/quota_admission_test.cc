#include "ingest/quota_admission.h"

#include <gtest/gtest.h>

#include <future>

#include "quota/status.h"
#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

Event query(std::string tenant, std::string id, std::string_view quantity = "1") {
  return testing::make_event(std::move(tenant), std::move(id), "query", quantity, kNow);
}

quota::TenantQuota hard_limit(std::string_view per_day) {
  quota::TenantQuota q;
  q.enforcement = quota::Enforcement::kHard;
  q[quota::Meter::kQueries].per_day = *Decimal::parse(per_day);
  return q;
}

// Verifies hard mode refuses the event that would pass the limit, naming it, with a retry time.
TEST(QuotaAdmission, HardLimitRefusesWithRetryAfter) {
  quota::QuotaBook book(quota::TenantQuota{});
  ASSERT_TRUE(book.set("acme", hard_limit("2")));
  QuotaAdmission admission(book);
  EXPECT_FALSE(admission.admit(query("acme", "1")));
  EXPECT_FALSE(admission.admit(query("acme", "2")));
  auto refused = admission.admit(query("acme", "3"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused->field, "queries_per_day");
  EXPECT_EQ(refused->retry_after_seconds, 14 * 3600);         // until midnight UTC
  EXPECT_FALSE(admission.admit(query("other", "1", "100")));  // soft default: no limit applies
}

// Verifies an event a shared log had already stored is taken back out of the day and month
// sums, while a gauge keeps the level it reached.
TEST(QuotaAdmission, UncountTakesBackSumsNotGaugeLevels) {
  quota::QuotaBook book(quota::TenantQuota{});
  ASSERT_TRUE(book.set("hard", hard_limit("100")));
  QuotaAdmission admission(book);
  auto entry = book.get("hard");
  auto day = quota::counter_key("hard", quota::Meter::kQueries, entry->zone, quota::Period::kDay, kNow);
  auto month = quota::counter_key("hard", quota::Meter::kQueries, entry->zone, quota::Period::kMonth, kNow);
  Event twice = query("hard", "1", "4");
  EXPECT_FALSE(admission.admit(query("hard", "0", "3")));
  EXPECT_FALSE(admission.admit(twice));
  admission.settle();
  admission.uncount(twice);
  EXPECT_EQ(book.used(day).to_string(), "3");
  EXPECT_EQ(book.used(month).to_string(), "3");

  Event level = testing::make_event("hard", "g", "storage_gb", "9", kNow);
  auto gauge = quota::counter_key("hard", quota::Meter::kStorageGb, entry->zone, quota::Period::kDay, kNow);
  EXPECT_FALSE(admission.admit(level));
  admission.settle();
  admission.uncount(level);
  EXPECT_EQ(book.used(gauge).to_string(), "9");
}

// Verifies a failed write un-counts what the group had admitted, in hard and soft mode.
TEST(QuotaAdmission, RollbackRestoresCounters) {
  quota::QuotaBook book(quota::TenantQuota{});
  ASSERT_TRUE(book.set("hard", hard_limit("100")));
  QuotaAdmission admission(book);
  for (const char* tenant : {"hard", "soft"}) {
    auto entry = book.get(tenant);
    auto key = quota::counter_key(tenant, quota::Meter::kQueries, entry->zone, quota::Period::kDay, kNow);
    EXPECT_FALSE(admission.admit(query(tenant, "1", "5")));
    admission.settle();
    EXPECT_EQ(book.used(key).to_string(), "5");
    EXPECT_FALSE(admission.admit(query(tenant, "2", "7")));
    EXPECT_FALSE(admission.admit(query(tenant, "3", "1")));
    admission.rollback();
    EXPECT_EQ(book.used(key).to_string(), "5") << tenant;
    EXPECT_FALSE(admission.admit(query(tenant, "4", "2")));
    admission.settle();
    EXPECT_EQ(book.used(key).to_string(), "7") << tenant;
  }
}

// Verifies soft-mode sums over many tenants in one group all land (the bounded search).
TEST(QuotaAdmission, SoftSumsAcrossManyTenants) {
  quota::QuotaBook book(quota::TenantQuota{});
  QuotaAdmission admission(book);
  for (int round = 0; round < 3; ++round) {
    for (int t = 0; t < 50; ++t) EXPECT_FALSE(admission.admit(query("t" + std::to_string(t), "x")));
  }
  admission.settle();
  for (int t = 0; t < 50; ++t) {
    std::string tenant = "t" + std::to_string(t);
    auto key = quota::counter_key(tenant, quota::Meter::kQueries, book.get(tenant)->zone,
                                  quota::Period::kMonth, kNow);
    EXPECT_EQ(book.used(key).to_string(), "3") << tenant;
  }
}

// Verifies many threads racing at a hard limit through the real ingestor store exactly the limit.
TEST(QuotaAdmission, ConcurrentRequestsNeverExceedHardLimit) {
  testing::TempDir dir;
  store::sqlite::SqliteStore store({dir / "meterd.db"});
  quota::QuotaBook book(quota::TenantQuota{});
  ASSERT_TRUE(book.set("acme", hard_limit("1000")));
  QuotaAdmission admission(book);
  InMemoryDedupeIndex index;
  SimulatedClock clock(kNow);
  Ingestor ingestor(store, index, clock, {}, &admission);
  ASSERT_TRUE(ingestor.start());
  std::atomic<int> stored{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::promise<Result<Outcomes>> done;
        auto future = done.get_future();
        ingestor.submit({query("acme", std::to_string(t) + "-" + std::to_string(i))},
                        [&](Result<Outcomes> r) { done.set_value(std::move(r)); });
        auto r = future.get();
        ASSERT_TRUE(r);
        ((*r)[0].kind == Outcome::kStored ? stored : refused)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(stored.load(), 1000);
  EXPECT_EQ(refused.load(), 600);
  auto rows = store.usage(
      {"acme", std::nullopt, kNow - std::chrono::days(1), kNow + std::chrono::days(1), Window::kDay});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].quantity.to_string(), "1000");
}

}  // namespace
}  // namespace meter::ingest

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

// A shared log whose other writers have stored `stored` of every summed meter.
class OtherWritersLog final : public store::EventLog {
 public:
  Result<AlreadyStored> append(std::span<const Event>) override { return AlreadyStored{}; }
  Status scan_recent_ids(Timestamp, Timestamp, const store::RowCursor*, const store::IdVisitor&) override {
    return {};
  }
  Result<store::RowCursor> row_cursor() override { return store::RowCursor{}; }
  Result<std::int64_t> rows_after(const store::RowCursor&) override { return std::int64_t{0}; }
  Status scan_for_quotas(Timestamp, const store::TypeFilter&, const store::EventVisitor&) override {
    return {};
  }
  Status lock_tenants(std::span<const std::string> tenants) override {
    locked.assign(tenants.begin(), tenants.end());
    return {};
  }
  Result<std::optional<Decimal>> locked_usage(std::string_view, const store::UsageWindow& window) override {
    EXPECT_EQ(window.types.front(), "query");
    EXPECT_FALSE(window.peak);
    return std::optional<Decimal>(stored);
  }
  std::vector<std::string> locked;
  Decimal stored;
};

// Verifies that with a shared log the hard-mode tenants of a group (only they, sorted) are locked
// and their counters set to what every writer stored before anything is admitted.
TEST(QuotaAdmission, SharedLogCountersComeFromEveryWriter) {
  quota::QuotaBook book(quota::TenantQuota{});
  ASSERT_TRUE(book.set("zeta", hard_limit("100")));
  ASSERT_TRUE(book.set("alpha", hard_limit("100")));
  OtherWritersLog log;
  log.stored = *Decimal::parse("99");
  QuotaAdmission admission(book);
  admission.share_counters(&log);
  std::vector<Event> group = {query("zeta", "1"), query("soft", "2"), query("alpha", "3"),
                              query("zeta", "4")};
  std::vector<const Event*> pointers;
  for (const Event& e : group) pointers.push_back(&e);
  ASSERT_TRUE(admission.prepare(pointers));
  EXPECT_EQ(log.locked, (std::vector<std::string>{"alpha", "zeta"}));
  EXPECT_FALSE(admission.admit(group[0]));  // 99 + 1 = 100: at the limit
  EXPECT_TRUE(admission.admit(group[3]));   // 101: refused, whatever this writer counted before
  EXPECT_FALSE(admission.admit(group[1]));
}

class CollectedAlerts final : public quota::AlertSink {
 public:
  void fire(quota::Alert alert) override { fired.push_back(std::move(alert)); }
  std::vector<quota::Alert> fired;
};

// Verifies that with a shared log a soft-mode tenant's counters follow what every writer stored
// (read without a lock, at most once a second), and that a threshold other writers' events
// crossed fires once the group is stored.
TEST(QuotaAdmission, SoftTenantsAlertOnWhatEveryWriterStored) {
  quota::QuotaBook book(quota::TenantQuota{});
  quota::TenantQuota soft;
  soft[quota::Meter::kQueries].per_day = *Decimal::parse("100");
  ASSERT_TRUE(book.set("soft", soft));
  OtherWritersLog log;
  log.stored = *Decimal::parse("85");
  CollectedAlerts alerts;
  QuotaAdmission admission(book, &alerts);
  admission.share_counters(&log);
  Event e = query("soft", "1");
  const Event* group[] = {&e};
  ASSERT_TRUE(admission.prepare(group));
  EXPECT_TRUE(log.locked.empty());
  EXPECT_FALSE(admission.admit(e));
  EXPECT_TRUE(alerts.fired.empty());  // not before the group is stored
  admission.settle();
  ASSERT_EQ(alerts.fired.size(), 1u);
  EXPECT_EQ(alerts.fired[0].threshold_percent, 80);
  EXPECT_EQ(alerts.fired[0].used.to_string(), "85");
  auto entry = book.get("soft");
  auto day = quota::counter_key("soft", quota::Meter::kQueries, entry->zone, quota::Period::kDay, kNow);
  EXPECT_EQ(book.used(day).to_string(), "86");

  log.stored = *Decimal::parse("99");  // more from the others, within the second: not read yet
  ASSERT_TRUE(admission.prepare(group));
  admission.settle();
  EXPECT_EQ(book.used(day).to_string(), "86");
  EXPECT_EQ(alerts.fired.size(), 1u);
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

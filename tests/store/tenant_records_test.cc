// SqliteStore as tenant records: one settings row per tenant, changed field by field in
// transactions, and v5 files (tenant_quotas, tenant_plans) migrated into it.
#include <gtest/gtest.h>

#include <thread>

#include "store/sqlite/sqlite_store.h"
#include "support/temp_dir.h"

namespace meter::store::sqlite {
namespace {

Decimal dec(std::string_view text) { return *Decimal::parse(text); }

Status set_plan(TenantRecords& records, std::string tenant, std::string plan) {
  auto stored = records.update_settings(tenant, [&](TenantSettings& s) -> Status {
    s.plan = plan;
    return {};
  });
  if (!stored) return fail(stored.error());
  return {};
}

class TenantRecordsTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path db_path_ = dir_ / "meterd.db";
};

// Verifies a plan and quota settings set apart end up in one record, and a tenant without one
// has none.
TEST_F(TenantRecordsTest, PlanAndQuotaLiveInOneRecord) {
  SqliteStore store({db_path_});
  ASSERT_TRUE(set_plan(store, "acme", "growth"));
  auto stored = store.update_settings("acme", [](TenantSettings& s) -> Status {
    EXPECT_EQ(s.plan, "growth");
    EXPECT_FALSE(s.quota);
    quota::TenantQuota& q = s.quota.emplace();
    q.time_zone = "Asia/Kolkata";
    q.enforcement = quota::Enforcement::kHard;
    q[quota::Meter::kTokens].per_month = dec("1000000.5");
    return {};
  });
  ASSERT_TRUE(stored);
  ASSERT_TRUE(set_plan(store, "globex", "starter"));

  auto acme = store.settings("acme");
  ASSERT_TRUE(acme && *acme);
  EXPECT_EQ((*acme)->plan, "growth");
  ASSERT_TRUE((*acme)->quota);
  EXPECT_EQ((*acme)->quota->time_zone, "Asia/Kolkata");
  EXPECT_EQ((*acme)->quota->enforcement, quota::Enforcement::kHard);
  EXPECT_EQ((*(*acme)->quota)[quota::Meter::kTokens].per_month->to_string(), "1000000.5");
  EXPECT_FALSE((*(*acme)->quota)[quota::Meter::kTokens].per_day);

  auto none = store.settings("initech");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto plan = store.plan("initech");
  ASSERT_TRUE(plan);
  EXPECT_FALSE(*plan);

  auto all = store.list_settings();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].first, "acme");
  EXPECT_EQ((*all)[1].first, "globex");
  EXPECT_FALSE((*all)[1].second.quota);
}

// Verifies a change that fails stores nothing and returns its own error.
TEST_F(TenantRecordsTest, FailedChangeStoresNothing) {
  SqliteStore store({db_path_});
  ASSERT_TRUE(set_plan(store, "acme", "growth"));
  auto refused = store.update_settings("acme", [](TenantSettings& s) -> Status {
    s.plan = "enterprise";
    return fail(Error::invalid("time_zone", "unknown time zone"));
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "time_zone");
  EXPECT_EQ(*store.plan("acme"), std::optional<std::string>("growth"));
}

// Verifies changes to different fields made at the same time from two threads never undo each
// other: each is read and written in one transaction.
TEST_F(TenantRecordsTest, ConcurrentChangesToDifferentFieldsBothStick) {
  SqliteStore store({db_path_});
  constexpr int kRounds = 40;
  std::thread plans([&] {
    for (int i = 0; i <= kRounds; ++i) ASSERT_TRUE(set_plan(store, "acme", "plan_" + std::to_string(i)));
  });
  std::thread quotas([&] {
    for (int i = 0; i <= kRounds; ++i) {
      auto stored = store.update_settings("acme", [i](TenantSettings& s) -> Status {
        if (!s.quota) s.quota.emplace();
        (*s.quota)[quota::Meter::kQueries].per_day = Decimal::from_integer(i);
        return {};
      });
      ASSERT_TRUE(stored);
    }
  });
  plans.join();
  quotas.join();
  auto acme = store.settings("acme");
  ASSERT_TRUE(acme && *acme && (*acme)->quota);
  EXPECT_EQ((*acme)->plan, "plan_" + std::to_string(kRounds));
  EXPECT_EQ((*(*acme)->quota)[quota::Meter::kQueries].per_day->to_string(), std::to_string(kRounds));
}

// Verifies a value that does not parse is reported, never read as 0 or as no limit.
TEST_F(TenantRecordsTest, CorruptLimitIsAnError) {
  {
    SqliteStore store({db_path_});
    ASSERT_TRUE(store.update_settings("acme", [](TenantSettings& s) -> Status {
      s.quota.emplace();
      return {};
    }));
  }
  {
    SQLite::Database db(db_path_.string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE tenant_settings SET queries_per_day = 'ten'");
  }
  SqliteStore store({db_path_});
  auto all = store.list_settings();
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message.find("corrupt decimal 'ten'"), std::string::npos);
}

// Verifies a file of schema 5 keeps every tenant's plan and quota settings when it is opened:
// tenants with both, with quotas only and with a plan only.
TEST_F(TenantRecordsTest, MigratesSchema5TenantTables) {
  {
    SQLite::Database db(db_path_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(R"sql(
      CREATE TABLE meter_schema (version INTEGER NOT NULL);
      INSERT INTO meter_schema VALUES (5);
      CREATE TABLE tenant_quotas (tenant_id TEXT PRIMARY KEY, queries_per_day TEXT, tokens_per_day TEXT,
        storage_gb TEXT, updated_at INTEGER NOT NULL, time_zone TEXT NOT NULL DEFAULT 'UTC',
        enforcement TEXT NOT NULL DEFAULT 'soft', queries_per_month TEXT, tokens_per_month TEXT,
        storage_gb_per_month TEXT);
      CREATE TABLE tenant_plans (tenant_id TEXT PRIMARY KEY, plan TEXT NOT NULL, updated_at INTEGER NOT NULL);
      INSERT INTO tenant_quotas VALUES ('acme', '100', NULL, '5.5', 1, 'Europe/Berlin', 'hard', NULL, '9000', NULL);
      INSERT INTO tenant_quotas (tenant_id, queries_per_day, updated_at) VALUES ('globex', '7', 2);
      INSERT INTO tenant_plans VALUES ('acme', 'growth', 3), ('initech', 'starter', 4);
    )sql");
  }
  SqliteStore store({db_path_});
  auto all = store.list_settings();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  const auto& [acme_id, acme] = (*all)[0];
  EXPECT_EQ(acme_id, "acme");
  EXPECT_EQ(acme.plan, "growth");
  ASSERT_TRUE(acme.quota);
  EXPECT_EQ(acme.quota->time_zone, "Europe/Berlin");
  EXPECT_EQ(acme.quota->enforcement, quota::Enforcement::kHard);
  EXPECT_EQ((*acme.quota)[quota::Meter::kQueries].per_day->to_string(), "100");
  EXPECT_EQ((*acme.quota)[quota::Meter::kStorageGb].per_day->to_string(), "5.5");
  EXPECT_EQ((*acme.quota)[quota::Meter::kTokens].per_month->to_string(), "9000");
  EXPECT_FALSE((*acme.quota)[quota::Meter::kTokens].per_day);
  const auto& [globex_id, globex] = (*all)[1];
  EXPECT_EQ(globex_id, "globex");
  EXPECT_FALSE(globex.plan);
  ASSERT_TRUE(globex.quota);
  EXPECT_EQ(globex.quota->time_zone, "UTC");
  EXPECT_EQ((*globex.quota)[quota::Meter::kQueries].per_day->to_string(), "7");
  const auto& [initech_id, initech] = (*all)[2];
  EXPECT_EQ(initech_id, "initech");
  EXPECT_EQ(initech.plan, "starter");
  EXPECT_FALSE(initech.quota);

  SQLite::Database db(db_path_.string());
  EXPECT_FALSE(db.tableExists("tenant_quotas"));
  EXPECT_FALSE(db.tableExists("tenant_plans"));
  EXPECT_TRUE(db.tableExists("adjustments"));
  EXPECT_TRUE(db.tableExists("credit_grants"));
  SQLite::Statement version(db, "SELECT max(version) FROM meter_schema");
  ASSERT_TRUE(version.executeStep());
  EXPECT_EQ(version.getColumn(0).getInt(), 11);
}

// Verifies a schema 9 file's lots gain the v10 columns (rule, payment, rollover) and keep what
// they held.
TEST_F(TenantRecordsTest, MigratesSchema9CreditGrants) {
  {
    SQLite::Database db(db_path_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(R"sql(
      CREATE TABLE meter_schema (version INTEGER NOT NULL);
      INSERT INTO meter_schema VALUES (9);
      CREATE TABLE credit_grants (grant_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, seq INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL, amount TEXT NOT NULL, category TEXT NOT NULL, priority INTEGER NOT NULL,
        scope TEXT NOT NULL, effective_at INTEGER NOT NULL, expires_at INTEGER, created_at INTEGER NOT NULL,
        voided_at INTEGER, idempotency_key TEXT NOT NULL, request_hash TEXT NOT NULL, voided TEXT NOT NULL,
        UNIQUE (tenant_id, idempotency_key));
      INSERT INTO credit_grants VALUES ('g1', 'acme', 1, 'promo', '10', 'paid', 40, 'api_call', 0, NULL, 5,
        NULL, 'k1', 'h1', '0');
    )sql");
  }
  SqliteStore store({db_path_});
  auto lots = store.grants("");
  ASSERT_TRUE(lots) << lots.error().message;
  ASSERT_EQ(lots->size(), 1u);
  const auto& g = (*lots)[0];
  EXPECT_EQ(g.lot.id, "g1");
  EXPECT_EQ(g.lot.amount.to_string(), "10");
  EXPECT_EQ(g.lot.scope, std::vector<std::string>{"api_call"});
  EXPECT_EQ(g.lot.rule_id, "");
  EXPECT_FALSE(g.lot.awaits_payment);
  EXPECT_TRUE(g.rolled.is_zero());
  EXPECT_EQ(g.remaining().to_string(), "10");
  auto rules = store.rules("");
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_TRUE(rules->empty());
  SQLite::Database db(db_path_.string());
  SQLite::Statement version(db, "SELECT max(version) FROM meter_schema");
  ASSERT_TRUE(version.executeStep());
  EXPECT_EQ(version.getColumn(0).getInt(), 11);
}

}  // namespace
}  // namespace meter::store::sqlite

#pragma once

// A fixture for tests against a real PostgreSQL: a private server per test binary run (started
// by scripts/postgres-test-server), a fresh database per test.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/postgres/pg_store.h"
#include "support/postgres_server.h"

namespace meter::testing {

using store::postgres::PgStore;

class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new PostgresServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    auto admin = store::postgres::Connection::open(server_->url(), std::chrono::seconds(10));
    ASSERT_TRUE(admin) << admin.error().message;
    ASSERT_TRUE((*admin)->exec("DROP DATABASE IF EXISTS " + db_));
    ASSERT_TRUE((*admin)->exec("CREATE DATABASE " + db_));
  }
  std::unique_ptr<PgStore> open_store() {
    auto store = PgStore::open({server_->url(db_), std::chrono::seconds(10)});
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  std::int64_t count(const std::string& sql) {
    auto db = store::postgres::Connection::open(server_->url(db_), std::chrono::seconds(10));
    EXPECT_TRUE(db);
    auto rows = (*db)->exec(sql);
    EXPECT_TRUE(rows) << rows.error().message;
    return rows ? rows->int64(0, 0) : -1;
  }

  static inline PostgresServer* server_ = nullptr;
  std::string db_ = "meterd_test";
};

}  // namespace meter::testing

#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/clickhouse/schema.h"
#include "support/clickhouse_server.h"
#include "support/events.h"

namespace meter::testing {

// One private ClickHouse per test binary run; each test gets a fresh, migrated database.
class ClickHouseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ClickHouseServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    client_ = std::make_unique<store::clickhouse::Client>(server_->url());
    ASSERT_TRUE(client_->query("DROP DATABASE IF EXISTS " + db_));
    auto migrated = store::clickhouse::migrate(*client_, db_);
    ASSERT_TRUE(migrated) << migrated.error().message;
    remote_ = std::make_unique<store::clickhouse::ClickHouseUsageStore>(*client_, db_);
  }

  // SELECT count() of the raw table (optionally with a condition).
  std::uint64_t count(const std::string& where = "1") {
    auto answer = client_->query("SELECT count() FROM " + db_ + ".usage_events WHERE " + where);
    EXPECT_TRUE(answer) << answer.error().message;
    return answer ? std::stoull(*answer) : 0;
  }

  static inline ClickHouseServer* server_ = nullptr;
  std::string db_ = "meterd_test";
  std::unique_ptr<store::clickhouse::Client> client_;
  std::unique_ptr<store::clickhouse::ClickHouseUsageStore> remote_;
};

// `n` events of tenants t0..t2 and two event types, spread over the hours of two months.
inline std::vector<Event> spread_events(int n, std::string_view prefix = "e") {
  std::vector<Event> events;
  Timestamp start = *parse_rfc3339("2026-10-30T21:17:03.250Z");
  for (int i = 0; i < n; ++i) {
    Timestamp at = start + std::chrono::minutes(37 * i) + std::chrono::milliseconds(i % 1000);
    std::string quantity = std::to_string(i % 7) + "." + std::to_string(i % 1000);
    events.push_back(make_event("t" + std::to_string(i % 3), std::string(prefix) + std::to_string(i),
                                i % 2 ? "query" : "input_tokens", quantity, at));
  }
  return events;
}

}  // namespace meter::testing

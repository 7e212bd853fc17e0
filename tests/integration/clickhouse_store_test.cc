#include <fmt/format.h>

#include "clickhouse_fixture.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::testing {
namespace {

using store::UsageQuery;
using store::UsageRow;

// Verifies the schema is created once, its version recorded, and a second run changes nothing.
TEST_F(ClickHouseTest, MigrateIsVersionedAndIdempotent) {
  auto version = store::clickhouse::schema_version(*client_, db_);
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, store::clickhouse::migrations().back().version);
  auto again = store::clickhouse::migrate(*client_, db_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->applied.empty());
  auto tables = client_->query("SELECT name FROM system.tables WHERE database = '" + db_ + "' ORDER BY name");
  ASSERT_TRUE(tables);
  EXPECT_EQ(*tables,
            "meter_schema\ntenant_quotas\nusage_daily\nusage_daily_mv\nusage_events\nusage_hourly\nusage_"
            "hourly_mv\n");
  auto none = store::clickhouse::schema_version(*client_, "not_there");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

// Verifies ClickHouse's own error message reaches the caller, and an unreachable server says so.
TEST_F(ClickHouseTest, SurfacesErrors) {
  auto bad = client_->query("SELECT nope FROM " + db_ + ".usage_events");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("Code: 47"), std::string::npos) << bad.error().message;
  store::clickhouse::Client dead("http://127.0.0.1:" + std::to_string(free_port()));
  auto down = dead.query("SELECT 1");
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message.find("cannot reach ClickHouse"), std::string::npos) << down.error().message;
}

// Verifies a batch is stored with exact decimals and metadata, and rollups equal the raw sums.
TEST_F(ClickHouseTest, InsertKeepsValuesExactAndRollupsMatchRaw) {
  auto events = spread_events(300);
  events[0].metadata = R"({"q":"tab\there","nl":"a\nb","bs":"\\","quote":"it's"})";
  events[1].quantity = *Decimal::parse("123456789012345.123456789012");
  events[2].metadata = R"({"pad":")" + std::string(20'000, 'x') + R"("})";  // a three-byte RowBinary length
  events[3].quantity = *Decimal::parse("0.000000000001");
  auto first = remote_->insert_batch("b1", std::span(events).first(150));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(remote_->insert_batch("b2", std::span(events).subspan(150)));
  // b1 spans the end of October and the start of November.
  EXPECT_EQ(*remote_->batch_rows("b1", 202610) + *remote_->batch_rows("b1", 202611), 150u);
  EXPECT_GT(*remote_->batch_rows("b1", 202610), 0u);
  EXPECT_EQ(*remote_->batch_rows("b3", 202611), 0u);
  EXPECT_EQ(count(), 300u);

  auto meta = client_->query("SELECT metadata, toString(quantity) FROM " + db_ +
                             ".usage_events WHERE id IN ('e0', 'e1') ORDER BY id FORMAT JSONEachRow");
  ASSERT_TRUE(meta);
  EXPECT_NE(meta->find(R"(tab\\there)"), std::string::npos) << *meta;
  EXPECT_NE(meta->find("123456789012345.123456789012"), std::string::npos) << *meta;
  auto shipped = client_->query("SELECT length(metadata), toString(quantity), timestamp_ms FROM " + db_ +
                                ".usage_events WHERE id IN ('e2', 'e3') ORDER BY id");
  ASSERT_TRUE(shipped);
  EXPECT_EQ(*shipped, fmt::format("20010\t2.200000000000\t{}\n{}\t0.000000000001\t{}\n",
                                  to_unix_ms(events[2].timestamp) % 1000, events[3].metadata.size(),
                                  to_unix_ms(events[3].timestamp) % 1000));

  for (int month : {202610, 202611}) {
    auto checks = remote_->check_rollups(month, "");
    ASSERT_TRUE(checks) << checks.error().message;
    ASSERT_FALSE(checks->empty());
    for (const auto& c : *checks) EXPECT_FALSE(c.drift()) << c.tenant_id << " " << c.event_type;
  }
}

// Verifies usage answered from ClickHouse equals the embedded store's for the same events.
TEST_F(ClickHouseTest, UsageEqualsEmbeddedStore) {
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  auto events = spread_events(2000);
  ASSERT_TRUE(local.append(events));
  ASSERT_TRUE(remote_->insert_batch("all", events));

  Timestamp from = *parse_rfc3339("2026-10-01T00:00:00Z");
  Timestamp to = *parse_rfc3339("2027-01-01T00:00:00Z");
  for (Window w : {Window::kHour, Window::kDay, Window::kMonth}) {
    for (std::optional<std::string> type :
         {std::optional<std::string>(), std::optional<std::string>("query")}) {
      for (std::string tenant : {"t0", "t1", "t2", "nobody"}) {
        UsageQuery q{tenant, type, from, to, w};
        auto a = local.usage(q);
        auto b = remote_->usage(q);
        ASSERT_TRUE(a && b) << (b ? "" : b.error().message);
        ASSERT_EQ(a->size(), b->size()) << tenant << " " << window_name(w);
        for (std::size_t i = 0; i < a->size(); ++i) {
          EXPECT_EQ((*a)[i].bucket_start, (*b)[i].bucket_start);
          EXPECT_EQ((*a)[i].event_type, (*b)[i].event_type);
          EXPECT_EQ((*a)[i].quantity, (*b)[i].quantity);
          EXPECT_EQ((*a)[i].events, (*b)[i].events);
        }
      }
    }
  }
  for (int month : {202610, 202611, 202612}) {
    auto a = local.check_rollups(month, "t1");
    auto b = remote_->check_rollups(month, "t1");
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->size(), b->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].raw, (*b)[i].raw);
      EXPECT_FALSE((*a)[i].drift());
    }
  }
}

// Verifies a grouped metadata value holding tabs, newlines, backslashes and quotes reads back
// from ClickHouse as the embedded store reads it (ClickHouse escapes them in its answer).
TEST_F(ClickHouseTest, GroupValuesWithEscapesEqualEmbeddedStore) {
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  Timestamp at = *parse_rfc3339("2026-11-05T10:00:00Z");
  std::vector<Event> events;
  const char* regions[] = {R"("eu\twest")", R"("line\nbreak")", R"("back\\slash 'quoted'")", R"("plain")"};
  for (int i = 0; i < 8; ++i) {
    Event e = make_event("acme", "esc-" + std::to_string(i), "query", "1", at);
    e.metadata = std::string(R"({"region":)") + regions[i % 4] + "}";
    events.push_back(std::move(e));
  }
  ASSERT_TRUE(local.append(events));
  ASSERT_TRUE(remote_->insert_batch("escapes", events));

  store::AggregateQuery q{
      "acme",   "query", at - std::chrono::hours(1), at + std::chrono::hours(1), Aggregation::kSum, "",
      "region", false};
  auto a = local.aggregate_raw(q);
  auto b = remote_->aggregate_raw(q);
  ASSERT_TRUE(a && b) << (b ? "" : b.error().message);
  ASSERT_EQ(a->size(), 4u);
  ASSERT_EQ(a->size(), b->size());
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].group, (*b)[i].group);
    EXPECT_EQ((*a)[i].value, (*b)[i].value);
    groups.push_back((*b)[i].group);
  }
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(groups, (std::vector<std::string>{"back\\slash 'quoted'", "eu\twest", "line\nbreak", "plain"}));
}

// Verifies reconciliation reports drift when a rollup and the raw events disagree.
TEST_F(ClickHouseTest, ReconciliationSeesDrift) {
  auto events = spread_events(50);
  ASSERT_TRUE(remote_->insert_batch("b", events));
  ASSERT_TRUE(
      client_->query("INSERT INTO " + db_ +
                     ".usage_daily VALUES ('t1', toDateTime('2026-11-02 00:00:00', 'UTC'), 'query', 5, 1)"));
  auto checks = remote_->check_rollups(202611, "t1");
  ASSERT_TRUE(checks);
  int drifting = 0;
  for (const auto& c : *checks) drifting += c.drift();
  EXPECT_EQ(drifting, 1);
}

// Verifies retention drops whole months, raw events and rollups alike.
TEST_F(ClickHouseTest, DropMonthRemovesThePartition) {
  ASSERT_TRUE(remote_->insert_batch("b", spread_events(200)));
  auto months = remote_->months();
  ASSERT_TRUE(months);
  EXPECT_EQ(*months, (std::vector<int>{202610, 202611}));
  ASSERT_TRUE(remote_->drop_month(202610));
  EXPECT_EQ(*remote_->months(), (std::vector<int>{202611}));
  EXPECT_EQ(count("toYYYYMM(timestamp) = 202610"), 0u);
  EXPECT_TRUE(remote_->check_rollups(202610, "")->empty());
  EXPECT_GT(count(), 0u);
  EXPECT_TRUE(remote_->drop_month(202601));  // nothing there: not an error
}

// Verifies quota settings are mirrored with exact limits and no limit as NULL.
TEST_F(ClickHouseTest, MirrorsQuotaSettings) {
  quota::TenantQuota q;
  q[quota::Meter::kQueries].per_day = *Decimal::parse("1000.5");
  q.time_zone = "Asia/Kolkata";
  ASSERT_TRUE(remote_->mirror_quota("acme", q));
  auto row = client_->query("SELECT time_zone, toString(queries_per_day), isNull(tokens_per_day) FROM " +
                            db_ + ".tenant_quotas FINAL WHERE tenant_id = 'acme'");
  ASSERT_TRUE(row);
  EXPECT_EQ(*row, "Asia/Kolkata\t1000.500000000000\t1\n");
}

}  // namespace
}  // namespace meter::testing

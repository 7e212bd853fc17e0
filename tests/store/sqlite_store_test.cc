#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "store/sqlite/decimal_functions.h"
#include "support/temp_dir.h"

namespace meter::store::sqlite {
namespace {

Event make_event(std::string id, std::string tenant, std::string type, std::string_view quantity,
                 std::string_view when) {
  Event e;
  e.id = std::move(id);
  e.tenant_id = std::move(tenant);
  e.event_type = std::move(type);
  e.quantity = *Decimal::parse(quantity);
  e.timestamp = *parse_rfc3339(when);
  e.received_at = e.timestamp;
  return e;
}

UsageQuery query(Window window, std::string_view from, std::string_view to) {
  return {"acme", std::nullopt, *parse_rfc3339(from), *parse_rfc3339(to), window};
}

std::string raw_sum(const std::filesystem::path& db_path, std::string_view tenant) {
  SQLite::Database db(db_path.string());
  register_decimal_functions(db.getHandle());
  SQLite::Statement stmt(db, "SELECT meter_dec_sum(quantity) FROM usage_events WHERE tenant_id = ?");
  stmt.bind(1, std::string(tenant));
  stmt.executeStep();
  return stmt.getColumn(0).getString();
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path db_path_ = dir_ / "meterd.db";
};

// Verifies hourly, daily and monthly usage come back bucketed and summed exactly.
TEST_F(SqliteStoreTest, UsageByWindow) {
  SqliteStore store({db_path_});
  std::vector<Event> events = {
      make_event("1", "acme", "query", "1", "2026-10-31T23:10:00Z"),
      make_event("2", "acme", "query", "0.1", "2026-11-01T00:10:00Z"),
      make_event("3", "acme", "query", "0.2", "2026-11-01T00:50:00Z"),
      make_event("4", "acme", "tokens", "1500", "2026-11-01T01:00:00Z"),
      make_event("5", "other", "query", "7", "2026-11-01T01:00:00Z"),
  };
  ASSERT_TRUE(store.append(events));

  auto hours = store.usage(query(Window::kHour, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"));
  ASSERT_TRUE(hours);
  ASSERT_EQ(hours->size(), 2u);
  EXPECT_EQ((*hours)[0].quantity.to_string(), "0.3");
  EXPECT_EQ((*hours)[0].events, 2);
  EXPECT_EQ((*hours)[1].event_type, "tokens");
  // An hour that starts before `to` is whole, as a day is: its quarters after `to` count too.
  auto half = store.usage(query(Window::kHour, "2026-11-01T00:00:00Z", "2026-11-01T00:30:00Z"));
  ASSERT_TRUE(half);
  ASSERT_EQ(half->size(), 1u);
  EXPECT_EQ(format_rfc3339((*half)[0].bucket_start), "2026-11-01T00:00:00.000Z");
  EXPECT_EQ((*half)[0].quantity.to_string(), "0.3");

  auto months = store.usage(query(Window::kMonth, "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z"));
  ASSERT_TRUE(months);
  ASSERT_EQ(months->size(), 3u);
  EXPECT_EQ(format_rfc3339((*months)[0].bucket_start), "2026-10-01T00:00:00.000Z");
  EXPECT_EQ((*months)[0].quantity.to_string(), "1");
  EXPECT_EQ((*months)[1].event_type, "query");
  EXPECT_EQ((*months)[1].quantity.to_string(), "0.3");
  EXPECT_EQ((*months)[2].quantity.to_string(), "1500");

  auto q = query(Window::kDay, "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z");
  q.event_type = "tokens";
  auto days = store.usage(q);
  ASSERT_TRUE(days);
  ASSERT_EQ(days->size(), 1u);
  EXPECT_EQ((*days)[0].quantity.to_string(), "1500");
}

// Verifies a schema 10 file loses its hourly rollup table and still answers hourly usage, from
// the quarter hours.
TEST_F(SqliteStoreTest, MigratesSchema10DropsTheHourlyTable) {
  {
    SqliteStore store({db_path_});
    ASSERT_TRUE(
        store.append(std::vector<Event>{make_event("1", "acme", "query", "2", "2026-11-01T00:10:00Z"),
                                        make_event("2", "acme", "query", "3", "2026-11-01T00:55:00Z")}));
  }
  {
    SQLite::Database db(db_path_.string(), SQLite::OPEN_READWRITE);
    db.exec(
        "CREATE TABLE usage_hourly (tenant_id TEXT, bucket_start INTEGER, event_type TEXT, quantity TEXT, "
        "events INTEGER); UPDATE meter_schema SET version = 10");
  }
  SqliteStore store({db_path_});
  SQLite::Database db(db_path_.string());
  EXPECT_FALSE(db.tableExists("usage_hourly"));
  auto hours = store.usage(query(Window::kHour, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"));
  ASSERT_TRUE(hours);
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].quantity.to_string(), "5");
  EXPECT_EQ((*hours)[0].events, 2);
}

// Verifies raw events land in one table per month and the rollups equal the raw sums.
TEST_F(SqliteStoreTest, PartitionsByMonthAndRollupsMatchRaw) {
  {
    SqliteStore store({db_path_});
    std::vector<Event> events;
    for (int i = 0; i < 1000; ++i) {
      auto when = i % 2 == 0 ? "2026-10-15T12:00:00Z" : "2026-11-15T12:00:00Z";
      events.push_back(make_event(std::to_string(i), "acme", "tokens", "0.001", when));
    }
    ASSERT_TRUE(store.append(events));
    EXPECT_EQ(store.partitions(), (std::vector<int>{202610, 202611}));
  }
  EXPECT_EQ(raw_sum(db_path_, "acme"), "1");
  SqliteStore reopened({db_path_});
  auto months = reopened.usage(query(Window::kMonth, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"));
  ASSERT_TRUE(months);
  ASSERT_EQ(months->size(), 2u);
  EXPECT_EQ((*months)[0].quantity.to_string(), "0.5");
  EXPECT_EQ((*months)[1].quantity.to_string(), "0.5");
}

// Verifies a failing append stores nothing: no raw row and no rollup change.
TEST_F(SqliteStoreTest, FailedAppendIsAtomic) {
  SqliteStore store({db_path_});
  ASSERT_TRUE(store.append(std::vector<Event>{make_event("a", "acme", "q", "1", "2026-11-01T00:00:00Z")}));
  auto huge = make_event("b", "acme", "q", "100000000000000000000000000", "2026-11-01T00:00:00Z");
  std::vector<Event> overflow(2000, huge);
  EXPECT_FALSE(store.append(overflow));
  EXPECT_EQ(raw_sum(db_path_, "acme"), "1");
  auto days = store.usage(query(Window::kDay, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"));
  ASSERT_TRUE(days);
  EXPECT_EQ((*days)[0].quantity.to_string(), "1");
}

// Verifies the dedupe rebuild scan sees exactly the events received since the cut-off.
TEST_F(SqliteStoreTest, ScansRecentIds) {
  SqliteStore store({db_path_});
  auto old = make_event("old", "acme", "q", "1", "2026-09-01T00:00:00Z");
  auto recent = make_event("new", "acme", "q", "1", "2026-11-01T00:00:00Z");
  ASSERT_TRUE(store.append(std::vector<Event>{old, recent}));
  std::vector<std::string> seen;
  auto status =
      store.scan_recent_ids(*parse_rfc3339("2026-10-01T00:00:00Z"), *parse_rfc3339("2026-08-01T00:00:00Z"),
                            nullptr, [&](std::string_view t, std::string_view id, Timestamp) {
                              seen.push_back(std::string(t) + "/" + std::string(id));
                            });
  ASSERT_TRUE(status);
  EXPECT_EQ(seen, std::vector<std::string>{"acme/new"});
}

// Verifies a row cursor: rows_after counts and scan_recent_ids visits only the events stored
// after it, in its partitions and in a partition created since.
TEST_F(SqliteStoreTest, RowCursorSeesOnlyRowsStoredSince) {
  SqliteStore store({db_path_});
  ASSERT_TRUE(store.append(std::vector<Event>{make_event("a", "acme", "q", "1", "2026-11-01T00:00:00Z"),
                                              make_event("b", "acme", "q", "1", "2026-11-02T00:00:00Z")}));
  auto cursor = store.row_cursor();
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*cursor, (RowCursor{{202611, 2}}));
  ASSERT_TRUE(store.append(std::vector<Event>{make_event("c", "acme", "q", "1", "2026-11-03T00:00:00Z"),
                                              make_event("d", "acme", "q", "1", "2026-10-30T00:00:00Z")}));
  auto after = store.rows_after(*cursor);
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 2);
  std::vector<std::string> seen;
  ASSERT_TRUE(store.scan_recent_ids(
      *parse_rfc3339("2026-10-01T00:00:00Z"), *parse_rfc3339("2026-10-01T00:00:00Z"), &*cursor,
      [&](std::string_view, std::string_view id, Timestamp) { seen.emplace_back(id); }));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"c", "d"}));
}

// Verifies the quota scan gives quarter-hour sums for summable types and every event of the
// others (gauges), from `since` on only.
TEST_F(SqliteStoreTest, ScansForQuotasBySumsAndGaugeEvents) {
  SqliteStore store({db_path_});
  ASSERT_TRUE(store.append(std::vector<Event>{
      make_event("a", "acme", "query", "1", "2026-11-05T10:01:00Z"),
      make_event("b", "acme", "query", "2", "2026-11-05T10:14:59Z"),
      make_event("c", "acme", "query", "3.5", "2026-11-05T10:15:00Z"),
      make_event("d", "acme", "storage_gb", "40", "2026-11-05T10:02:00Z"),
      make_event("e", "acme", "storage_gb", "12", "2026-11-05T10:03:00Z"),
      make_event("f", "acme", "query", "100", "2026-10-31T23:59:00Z"),         // before `since`
      make_event("g", "acme", "storage_gb", "99", "2026-10-31T23:59:00Z")}));  // before `since`
  std::vector<std::string> seen;
  auto status = store.scan_for_quotas(
      *parse_rfc3339("2026-11-01T00:00:00Z"), [](std::string_view type) { return type != "storage_gb"; },
      [&](std::string_view t, std::string_view type, Decimal q, Timestamp at) {
        seen.push_back(std::string(t) + " " + std::string(type) + " " + q.to_string() + " " +
                       format_rfc3339(at));
      });
  ASSERT_TRUE(status) << status.error().message;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"acme query 3 2026-11-05T10:00:00.000Z",
                                            "acme query 3.5 2026-11-05T10:15:00.000Z",
                                            "acme storage_gb 12 2026-11-05T10:03:00.000Z",
                                            "acme storage_gb 40 2026-11-05T10:02:00.000Z"}));
}

// Verifies totals per event type add quantities and counts, sorted by type, and fail on overflow.
TEST(UsageTotals, SumsPerEventType) {
  auto t0 = *parse_rfc3339("2026-11-01T00:00:00Z");
  std::vector<UsageRow> rows = {{t0, "tokens", *Decimal::parse("1.5"), 2},
                                {t0, "query", *Decimal::parse("3"), 3},
                                {t0, "tokens", *Decimal::parse("0.5"), 1}};
  auto totals = totals_by_type(rows);
  ASSERT_TRUE(totals);
  ASSERT_EQ(totals->size(), 2u);
  EXPECT_EQ((*totals)[0].event_type, "query");
  EXPECT_EQ((*totals)[1].quantity.to_string(), "2");
  EXPECT_EQ((*totals)[1].events, 3);
  auto huge = *Decimal::parse("100000000000000000000000000");
  std::vector<UsageRow> many(2000, UsageRow{t0, "q", huge, 1});
  EXPECT_FALSE(totals_by_type(many));
}

// Verifies rows merge into the buckets a function maps them to, per event type, in order.
TEST(UsageTotals, RebucketsIntoLocalDays) {
  auto at = [](const char* t) { return *parse_rfc3339(t); };
  std::vector<UsageRow> quarters = {{at("2026-11-27T18:15:00Z"), "q", *Decimal::parse("1"), 1},
                                    {at("2026-11-27T18:30:00Z"), "q", *Decimal::parse("2.5"), 2},
                                    {at("2026-11-27T18:30:00Z"), "a", *Decimal::parse("7"), 1},
                                    {at("2026-11-28T18:15:00Z"), "q", *Decimal::parse("4"), 3}};
  // Local days starting at 18:30 UTC (Asia/Kolkata).
  auto day_of = [](Timestamp t) {
    auto shifted = t + std::chrono::minutes(330);
    return floor_to(Window::kDay, shifted) - std::chrono::minutes(330);
  };
  auto rows = rebucket(quarters, day_of);
  ASSERT_TRUE(rows);
  std::vector<std::string> seen;
  for (const auto& r : *rows)
    seen.push_back(format_rfc3339(r.bucket_start) + " " + r.event_type + " " + r.quantity.to_string() + " " +
                   std::to_string(r.events));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"2026-11-26T18:30:00.000Z q 1 1", "2026-11-27T18:30:00.000Z a 7 1",
                                      "2026-11-27T18:30:00.000Z q 6.5 5"}));
  auto huge = *Decimal::parse("100000000000000000000000000");
  std::vector<UsageRow> many(2000, UsageRow{at("2026-11-27T18:30:00Z"), "q", huge, 1});
  EXPECT_FALSE(rebucket(many, day_of));
}

}  // namespace
}  // namespace meter::store::sqlite

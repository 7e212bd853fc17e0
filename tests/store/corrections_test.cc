// The embedded store's side of corrections (docs/corrections.md): retractions stored beside
// the events they cancel, and every reading of usage leaving both out.
#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::store::sqlite {
namespace {

Event at(std::string id, std::string type, std::string_view quantity, std::string_view when) {
  return meter::testing::make_event("acme", std::move(id), std::move(type), quantity, *parse_rfc3339(when));
}

Event retraction_of(const Event& e) {
  return meter::retraction_of(e, e.received_at + std::chrono::hours(1), R"({"correction_id":"c1"})");
}

class CorrectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.append(events_));
    ASSERT_TRUE(store_.append(std::vector<Event>{retraction_of(events_[1]), retraction_of(events_[2])}));
  }
  AggregateRow only(Aggregation a, std::string type) {
    auto rows = store_.aggregate_raw({"acme", std::move(type), from_, to_, a, "user", "", false});
    EXPECT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->size(), 1u);
    return rows->front();
  }
  testing::TempDir dir_;
  SqliteStore store_{{dir_ / "meterd.db"}};
  Timestamp from_ = *parse_rfc3339("2026-11-01T00:00:00Z"), to_ = *parse_rfc3339("2026-12-01T00:00:00Z");
  std::vector<Event> events_ = {at("q1", "query", "10", "2026-11-02T10:00:00Z"),
                                at("q2", "query", "7.5", "2026-11-02T10:30:00Z"),
                                at("s1", "storage_gb", "9", "2026-11-03T00:00:00Z"),
                                at("s2", "storage_gb", "4", "2026-11-04T00:00:00Z")};
};

// Verifies rollups and raw totals take a retraction's quantity off and count it -1, so that
// reconciliation still finds no drift.
TEST_F(CorrectionsTest, SumsAndCountsLeaveCancelledEventsOut) {
  auto day = store_.usage({"acme", std::string("query"), from_, to_, Window::kMonth});
  ASSERT_TRUE(day);
  ASSERT_EQ(day->size(), 1u);
  EXPECT_EQ((*day)[0].quantity.to_string(), "10");
  EXPECT_EQ((*day)[0].events, 1);
  auto raw = store_.raw_totals("acme", from_, to_);
  EXPECT_EQ((*raw)[0].quantity.to_string(), "10");
  EXPECT_EQ((*raw)[0].events, 1);
  EXPECT_EQ((*raw)[1].quantity.to_string(), "4");
  EXPECT_EQ((*raw)[1].events, 1);
  auto checks = store_.check_rollups(202611, "");
  ASSERT_TRUE(checks);
  for (const auto& check : *checks) EXPECT_FALSE(check.drift()) << check.event_type;
}

// Verifies the aggregations that read single rows skip both the retraction and its event.
TEST_F(CorrectionsTest, RowAggregationsSkipCancelledEvents) {
  EXPECT_EQ(only(Aggregation::kMax, "storage_gb").value.to_string(), "4");
  EXPECT_EQ(only(Aggregation::kMin, "query").value.to_string(), "10");
  EXPECT_EQ(only(Aggregation::kCount, "query").value.to_string(), "1");
  EXPECT_EQ(only(Aggregation::kLatest, "query").value.to_string(), "10");
  EXPECT_EQ(only(Aggregation::kSum, "query").value.to_string(), "10");
}

// Verifies events are found by id with their retraction, and the audit trail lists retractions.
TEST_F(CorrectionsTest, FindsEventsAndLists) {
  std::vector<std::string> ids = {"q1", "q2", "nope"};
  auto found = store_.find_events("acme", ids);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), 2u);
  for (const auto& f : *found) {
    EXPECT_EQ(f.retraction.has_value(), f.event.id == "q2") << f.event.id;
    if (f.event.id == "q1") {
      EXPECT_EQ(f.event.quantity.to_string(), "10");
    }
  }
  EXPECT_TRUE(store_.find_events("globex", ids)->empty());
  auto trail = store_.retractions("acme", Timestamp{}, to_ + std::chrono::days(30), 10);
  ASSERT_TRUE(trail);
  ASSERT_EQ(trail->size(), 2u);
  EXPECT_EQ((*trail)[0].cancels, "s1");  // newest first
  EXPECT_EQ((*trail)[1].quantity.to_string(), "-7.5");
  EXPECT_EQ((*trail)[1].metadata, R"({"correction_id":"c1"})");
  // Retention drops a month's retractions with its events.
  ASSERT_TRUE(store_.drop_month(202611));
  EXPECT_TRUE(store_.retractions("acme", Timestamp{}, to_ + std::chrono::days(30), 10)->empty());
}

// Verifies a range's live events leave out retractions, cancelled events, other types and
// times outside [from, to), oldest first, at most `limit`.
TEST_F(CorrectionsTest, LiveEventsOfARange) {
  ASSERT_TRUE(store_.append(std::vector<Event>{at("q3", "query", "1", "2026-11-02T11:00:00Z"),
                                               at("q4", "query", "2", "2026-12-02T09:00:00Z")}));
  auto ids = [](const Result<std::vector<Event>>& events) {
    EXPECT_TRUE(events);
    std::vector<std::string> out;
    for (const Event& e : *events) out.push_back(e.id);
    return out;
  };
  Timestamp december_end = *parse_rfc3339("2027-01-01T00:00:00Z");
  EXPECT_EQ(ids(store_.live_events("acme", "query", from_, december_end, 10)),
            (std::vector<std::string>{"q1", "q3", "q4"}));
  EXPECT_EQ(ids(store_.live_events("acme", "query", from_, to_, 10)), (std::vector<std::string>{"q1", "q3"}));
  EXPECT_EQ(ids(store_.live_events("acme", "query", from_, december_end, 2)),
            (std::vector<std::string>{"q1", "q3"}));
  EXPECT_EQ(ids(store_.live_events("acme", "storage_gb", from_, to_, 10)), (std::vector<std::string>{"s2"}));
  EXPECT_EQ(ids(store_.live_events("globex", "query", from_, to_, 10)), (std::vector<std::string>{}));
}
// Verifies a file written before retractions existed (schema 6) gets the column and accepts one.
TEST(CorrectionsUpgradeTest, SchemaSixPartitionsLearnRetractions) {
  testing::TempDir dir;
  {
    SQLite::Database db((dir / "meterd.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(R"sql(
      CREATE TABLE meter_schema (version INTEGER NOT NULL);
      INSERT INTO meter_schema VALUES (6);
      CREATE TABLE usage_partitions (month INTEGER PRIMARY KEY);
      INSERT INTO usage_partitions VALUES (202611);
      CREATE TABLE usage_events_202611 (id TEXT NOT NULL, tenant_id TEXT NOT NULL, event_type TEXT NOT NULL,
        quantity TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, metadata TEXT NOT NULL);
      INSERT INTO usage_events_202611 VALUES ('old', 'acme', 'query', '3', 1794268800000, 1794268800000, '{}');
    )sql");
  }
  SqliteStore store({dir / "meterd.db"});
  std::vector<std::string> ids = {"old"};
  auto found = store.find_events("acme", ids);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), 1u);
  ASSERT_TRUE(store.append(std::vector<Event>{retraction_of(found->front().event)}));
  auto raw = store.raw_totals("acme", month_start(202611), month_start(202612));
  ASSERT_TRUE(raw && raw->size() == 1u);
  EXPECT_EQ((*raw)[0].quantity.to_string(), "0");
  EXPECT_EQ((*raw)[0].events, 0);
}

}  // namespace
}  // namespace meter::store::sqlite

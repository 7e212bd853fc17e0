#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::store::sqlite {
namespace {

Event at(std::string id, std::string tenant, std::string_view quantity, std::string_view when) {
  return meter::testing::make_event(std::move(tenant), std::move(id), "query", quantity,
                                    *parse_rfc3339(when));
}

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.append(std::vector<Event>{
        at("1", "a", "1.5", "2026-10-31T23:59:59.999Z"), at("2", "a", "2", "2026-11-01T00:00:00Z"),
        at("3", "b", "7", "2026-11-15T12:00:00Z"), at("4", "a", "0.25", "2026-11-30T23:00:00Z")}));
  }
  meter::testing::TempDir dir_;
  SqliteStore store_{{dir_ / "meterd.db"}};
};

// Verifies reconciliation sums raw events and both rollups per tenant, type and month.
TEST_F(MaintenanceTest, ChecksRollupsPerMonth) {
  auto november = store_.check_rollups(202611, "");
  ASSERT_TRUE(november);
  ASSERT_EQ(november->size(), 2u);
  const RollupCheck& a = (*november)[0];
  EXPECT_EQ(a.tenant_id, "a");
  EXPECT_EQ(a.raw.quantity.to_string(), "2.25");
  EXPECT_EQ(a.raw.events, 2);
  EXPECT_EQ(a.hourly, a.raw);
  EXPECT_EQ(a.daily, a.raw);
  EXPECT_FALSE(a.drift());
  auto only_b = store_.check_rollups(202611, "b");
  ASSERT_TRUE(only_b);
  ASSERT_EQ(only_b->size(), 1u);
  EXPECT_EQ((*only_b)[0].raw.quantity.to_string(), "7");
  EXPECT_TRUE(store_.check_rollups(202501, "")->empty());

  SQLite::Database db((dir_ / "meterd.db").string(), SQLite::OPEN_READWRITE);
  db.exec("UPDATE usage_daily SET quantity = '3' WHERE tenant_id = 'b'");
  EXPECT_TRUE((*store_.check_rollups(202611, "b"))[0].drift());
}

// Verifies dropping a month removes its raw table and rollups and nothing else.
TEST_F(MaintenanceTest, DropsWholeMonths) {
  EXPECT_EQ(*store_.months(), (std::vector<int>{202610, 202611}));
  ASSERT_TRUE(store_.drop_month(202610));
  EXPECT_EQ(*store_.months(), (std::vector<int>{202611}));
  EXPECT_TRUE(store_.check_rollups(202610, "")->empty());
  EXPECT_EQ((*store_.check_rollups(202611, "a"))[0].raw.events, 2);
  // Still writable, also into the dropped month, and the all-months view still works.
  ASSERT_TRUE(store_.append(std::vector<Event>{at("5", "a", "1", "2026-10-20T00:00:00Z")}));
  EXPECT_EQ(*store_.months(), (std::vector<int>{202610, 202611}));
  SQLite::Database db((dir_ / "meterd.db").string());
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM usage_events").getInt(), 4);
  EXPECT_TRUE(store_.drop_month(202001));
}

// Verifies the ship log hands out events after its cursor, one shipment in flight at a time.
TEST_F(MaintenanceTest, ShipLogCursor) {
  EXPECT_EQ(store_.backlog()->events, 4);
  auto first = store_.next_shipment(2, "b1");
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->month, 202610);
  EXPECT_EQ((*first)->events.size(), 1u);
  auto again = store_.next_shipment(2, "b2");  // not confirmed: the same one comes back
  EXPECT_EQ((*again)->batch_id, "b1");
  EXPECT_TRUE((*again)->resumed);
  ASSERT_TRUE(store_.confirm_shipment(**first));
  auto second = store_.next_shipment(2, "b3");
  EXPECT_EQ((*second)->month, 202611);
  EXPECT_EQ((*second)->events.size(), 2u);
  EXPECT_EQ((*second)->events[0].id, "2");
  ASSERT_TRUE(store_.confirm_shipment(**second));
  EXPECT_EQ(store_.backlog()->events, 1);
  EXPECT_FALSE(store_.confirm_shipment(**second));  // nothing in flight any more
}

// Verifies reading ahead: the run after the one in flight (across months), recorded only when
// the one in flight is confirmed, so that a crash in between resumes the right batch.
TEST_F(MaintenanceTest, ShipLogReadsAhead) {
  auto first = store_.next_shipment(2, "b1");
  auto ahead = store_.read_ahead(**first, 2, "b2");
  ASSERT_TRUE(ahead && *ahead);
  EXPECT_EQ((*ahead)->month, 202611);
  EXPECT_EQ((*ahead)->events.size(), 2u);
  EXPECT_FALSE((*ahead)->resumed);
  EXPECT_EQ((*store_.next_shipment(2, "x"))->batch_id, "b1");  // read, not recorded
  ASSERT_TRUE(store_.confirm_and_begin(**first, **ahead));
  auto resumed = store_.next_shipment(2, "x");  // as after a crash: b2 is the one in flight
  EXPECT_EQ((*resumed)->batch_id, "b2");
  EXPECT_TRUE((*resumed)->resumed);
  EXPECT_EQ((*resumed)->events[1].id, (*ahead)->events[1].id);
  auto last = store_.read_ahead(**ahead, 2, "b3");  // within one month, after the one in flight
  EXPECT_EQ((*last)->events.size(), 1u);
  EXPECT_EQ((*last)->first_rowid, (*ahead)->last_rowid + 1);
  EXPECT_FALSE(store_.confirm_and_begin(**first, **last));  // b1 is no longer in flight
  ASSERT_TRUE(store_.confirm_and_begin(**ahead, **last));
  ASSERT_TRUE(store_.confirm_shipment(**last));
  EXPECT_EQ(store_.backlog()->events, 0);
  EXPECT_FALSE(*store_.read_ahead(**last, 2, "b4"));
}

}  // namespace
}  // namespace meter::store::sqlite

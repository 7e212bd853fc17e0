#include "ingest/shipper.h"

#include "clickhouse_fixture.h"
#include "core/clock.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::testing {
namespace {

using ingest::Shipper;
using ingest::ShipperOptions;

class ShipperTest : public ClickHouseTest {
 protected:
  ShipperOptions options(std::size_t batch, std::size_t catch_up = 0) {
    ShipperOptions o;
    o.batch_size = batch;
    o.catch_up_size = catch_up == 0 ? batch : catch_up;
    o.flush_interval = std::chrono::seconds(1);
    return o;
  }
  TempDir dir_;
  SimulatedClock clock_{*parse_rfc3339("2026-11-27T12:00:00Z")};
  store::sqlite::SqliteStore local_{{dir_ / "meterd.db"}};
};

// Verifies a backlog leaves in batches of at most batch_size, oldest month first, all of it.
TEST_F(ShipperTest, ShipsEverythingInBatches) {
  ASSERT_TRUE(local_.append(spread_events(25)));
  Shipper shipper(local_, *remote_, clock_, options(10));
  int batches = 0;
  while (true) {
    auto shipped = shipper.ship_once(true);
    ASSERT_TRUE(shipped) << shipped.error().message;
    if (!*shipped) break;
    ++batches;
  }
  EXPECT_EQ(batches, 3);  // 25 events: 10 + 10 + 5, all within October 30 .. 31
  EXPECT_EQ(count(), 25u);
  EXPECT_EQ(local_.backlog()->events, 0);
  EXPECT_EQ(count("id = 'e0'"), 1u);
}

// Verifies a backlog larger than batch_size leaves in batches of up to catch_up_size.
TEST_F(ShipperTest, CatchesUpInLargerBatches) {
  ASSERT_TRUE(local_.append(spread_events(25)));
  Shipper shipper(local_, *remote_, clock_, options(4, 10));
  while (*shipper.ship_once(false)) {
  }
  EXPECT_EQ(shipper.stats().shipped_batches.load(), 3u);  // 10 + 10 + 5
  EXPECT_EQ(count(), 25u);
}

// Verifies a partial batch waits for the flush interval, and a full one leaves at once.
TEST_F(ShipperTest, FlushesOnSizeOrInterval) {
  auto events = spread_events(3);
  for (auto& e : events) e.received_at = clock_.now();
  ASSERT_TRUE(local_.append(events));
  Shipper shipper(local_, *remote_, clock_, options(5));
  EXPECT_FALSE(*shipper.ship_once(false));
  clock_.advance(std::chrono::milliseconds(999));
  EXPECT_FALSE(*shipper.ship_once(false));
  EXPECT_EQ(shipper.stats().backlog_events.load(), 3);
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(*shipper.ship_once(false));
  EXPECT_EQ(count(), 3u);

  auto more = spread_events(5, "f");
  for (auto& e : more) e.received_at = clock_.now();
  ASSERT_TRUE(local_.append(more));
  EXPECT_TRUE(*shipper.ship_once(false));  // 5 = batch size: no waiting
  EXPECT_EQ(count(), 8u);
}

// Verifies the crash case: a batch recorded in flight that had reached ClickHouse before meterd
// died is confirmed, not sent again.
TEST_F(ShipperTest, ResumedBatchAlreadyStoredIsNotSentTwice) {
  ASSERT_TRUE(local_.append(spread_events(8)));
  auto in_flight = local_.next_shipment(100, "batch-before-crash");
  ASSERT_TRUE(in_flight && *in_flight);
  ASSERT_TRUE(
      remote_->insert_batch("batch-before-crash", (*in_flight)->events));  // it arrived; the ack did not

  Shipper after_restart(local_, *remote_, clock_, options(100));
  EXPECT_TRUE(*after_restart.ship_once(true));
  EXPECT_FALSE(*after_restart.ship_once(true));
  EXPECT_EQ(count(), 8u);
  EXPECT_EQ(after_restart.stats().resumed_batches.load(), 1u);
  EXPECT_EQ(after_restart.stats().shipped_events.load(), 0u);
}

// Verifies a batch recorded in flight that never reached ClickHouse is sent, under its id.
TEST_F(ShipperTest, ResumedBatchMissingIsSent) {
  ASSERT_TRUE(local_.append(spread_events(8)));
  ASSERT_TRUE(local_.next_shipment(100, "lost-batch"));
  Shipper after_restart(local_, *remote_, clock_, options(100));
  EXPECT_TRUE(*after_restart.ship_once(true));
  EXPECT_EQ(count("batch_id = 'lost-batch'"), 8u);
  EXPECT_EQ(count(), 8u);
}

// Verifies shipping a backlog with reads ahead, and a restart while a batch read ahead is
// recorded in flight: every event lands once.
TEST_F(ShipperTest, ReadAheadBatchesLandOnce) {
  ASSERT_TRUE(local_.append(spread_events(50)));
  {
    Shipper before_crash(local_, *remote_, clock_, options(10));
    EXPECT_TRUE(*before_crash.ship_once(true));
    EXPECT_TRUE(*before_crash.ship_once(true));
  }
  EXPECT_EQ(count(), 20u);
  EXPECT_EQ(local_.backlog()->events, 30);  // the third batch, read ahead, is in flight
  Shipper after(local_, *remote_, clock_, options(10));
  while (*after.ship_once(true)) {
  }
  EXPECT_EQ(after.stats().resumed_batches.load(), 1u);
  EXPECT_EQ(count(), 50u);
  EXPECT_EQ(count("id = 'e49'"), 1u);
  EXPECT_EQ(local_.backlog()->events, 0);
}

// Verifies an outage keeps everything in the local log and a later attempt ships it once.
TEST_F(ShipperTest, OutageKeepsTheBacklog) {
  ASSERT_TRUE(local_.append(spread_events(40)));
  store::clickhouse::Client dead("http://127.0.0.1:" + std::to_string(free_port()));
  store::clickhouse::ClickHouseUsageStore unreachable(dead, db_);
  Shipper during_outage(local_, unreachable, clock_, options(16));
  for (int attempt = 0; attempt < 3; ++attempt) EXPECT_FALSE(during_outage.ship_once(true));
  EXPECT_EQ(local_.backlog()->events, 40);

  Shipper after(local_, *remote_, clock_, options(16));
  while (*after.ship_once(true)) {
  }
  EXPECT_EQ(count(), 40u);
  EXPECT_EQ(count("id = 'e39'"), 1u);
  EXPECT_EQ(local_.backlog()->events, 0);
}

// Verifies the background thread ships on its own and stop() drains what waits.
TEST_F(ShipperTest, ThreadShipsAndDrainsOnStop) {
  SystemClock clock;
  Shipper shipper(local_, *remote_, clock, options(1000));
  shipper.start();
  ASSERT_TRUE(local_.append(spread_events(30)));
  shipper.stop(std::chrono::seconds(10));
  EXPECT_EQ(count(), 30u);
}

}  // namespace
}  // namespace meter::testing

// Shipping from the PostgreSQL store to ClickHouse (store/postgres/ship_log.h) against a real
// PostgreSQL and a real ClickHouse: the outbox, one node at a time, and takeover.
#include <thread>

#include "clickhouse_fixture.h"
#include "ingest/shipper.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/ship_log.h"
#include "support/postgres_server.h"

namespace meter::testing {
namespace {

using namespace std::chrono_literals;
using ingest::Shipper;
using store::postgres::PgShipLog;
using store::postgres::PgStore;

class PostgresShipTest : public ClickHouseTest {
 protected:
  static void SetUpTestSuite() {
    ClickHouseTest::SetUpTestSuite();
    postgres_ = new PostgresServer();
  }
  static void TearDownTestSuite() {
    delete postgres_;
    postgres_ = nullptr;
    ClickHouseTest::TearDownTestSuite();
  }
  void SetUp() override {
    ClickHouseTest::SetUp();
    admin_ = connect(postgres_->url());
    ASSERT_TRUE(admin_->exec("DROP DATABASE IF EXISTS meterd_ship WITH (FORCE)"));
    ASSERT_TRUE(admin_->exec("CREATE DATABASE meterd_ship"));
    auto store = PgStore::open({url(), 10s});
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  static std::unique_ptr<store::postgres::Connection> connect(const std::string& url) {
    auto db = store::postgres::Connection::open(url, 10s);
    EXPECT_TRUE(db) << db.error().message;
    return db ? std::move(*db) : nullptr;
  }
  std::string url() const { return postgres_->url("meterd_ship"); }
  std::unique_ptr<PgShipLog> open_log() {
    auto log = PgShipLog::open({url(), 10s, 50ms, 400ms, 7});
    EXPECT_TRUE(log) << log.error().message;
    return log ? std::move(*log) : nullptr;
  }
  ingest::ShipperOptions options() {
    ingest::ShipperOptions o;
    o.batch_size = 10;
    o.catch_up_size = 10;
    return o;
  }
  // Ships until nothing is left (or ten seconds pass).
  static void drain(Shipper& shipper) {
    auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      auto shipped = shipper.ship_once(true);
      ASSERT_TRUE(shipped) << shipped.error().message;
      if (!*shipped && shipper.backlog()->events == 0) return;
      if (!*shipped) std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the backlog did not drain";
  }
  std::uint64_t most_copies() {
    auto answer = client_->query("SELECT max(c) FROM (SELECT count() AS c FROM " + db_ +
                                 ".usage_events GROUP BY tenant_id, id)");
    EXPECT_TRUE(answer);
    return answer ? std::stoull(*answer) : 0;
  }

  static inline PostgresServer* postgres_ = nullptr;
  SimulatedClock clock_{*parse_rfc3339("2026-11-27T12:00:00Z")};
  std::unique_ptr<store::postgres::Connection> admin_;
  std::unique_ptr<PgStore> store_;
};

// Verifies that turning shipping on queues what was already stored, that groups stored after
// queue themselves, and that everything reaches ClickHouse once, month by month.
TEST_F(PostgresShipTest, ShipsWhatWasStoredAndWhatComesAfter) {
  ASSERT_TRUE(store_->append(spread_events(100)));  // October 30 .. November 2
  auto log = open_log();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->backlog()->events, 100);
  auto again = open_log();  // a second node finds shipping on and queues nothing twice
  EXPECT_EQ(again->backlog()->events, 100);
  ASSERT_TRUE(store_->append(spread_events(30, "late")));
  std::this_thread::sleep_for(60ms);  // a node that does not ship reads the backlog every takeover_poll
  EXPECT_EQ(log->backlog()->events, 130);

  Shipper shipper(*log, *remote_, clock_, options());
  drain(shipper);
  EXPECT_EQ(count(), 130u);
  EXPECT_EQ(most_copies(), 1u);
  EXPECT_EQ(count("id = 'late29'"), 1u);
  EXPECT_EQ(shipper.stats().shipped_events.load(), 130u);
  EXPECT_TRUE(log->ships_here());
  EXPECT_FALSE(again->ships_here());
}

// Verifies only the node holding the lock ships; when its session ends with a shipment in
// flight that had reached ClickHouse, another node takes over, waits out the grace, finds the
// batch there and does not send it again.
TEST_F(PostgresShipTest, AnotherNodeTakesOverAShipmentInFlight) {
  ASSERT_TRUE(store_->append(spread_events(40)));
  auto first = open_log();
  auto second = open_log();
  auto in_flight = first->next_shipment(25, "batch-of-the-dead-node");
  ASSERT_TRUE(in_flight && *in_flight) << (in_flight ? "nothing to ship" : in_flight.error().message);
  EXPECT_EQ((*in_flight)->events.size(), 21u);  // three whole groups of 7 fit in 25
  ASSERT_TRUE(remote_->insert_batch("batch-of-the-dead-node", (*in_flight)->events));
  auto none = second->next_shipment(25, "b2");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);  // the first node ships

  first.reset();  // its session ends: the lock is free
  std::this_thread::sleep_for(100ms);
  auto waiting = second->next_shipment(25, "b3");
  ASSERT_TRUE(waiting) << waiting.error().message;
  // Started less than the grace ago: its insert might still be landing.
  EXPECT_FALSE(*waiting);
  EXPECT_TRUE(second->ships_here());

  std::this_thread::sleep_for(400ms);
  Shipper shipper(*second, *remote_, clock_, options());
  drain(shipper);
  EXPECT_EQ(count(), 40u);
  EXPECT_EQ(most_copies(), 1u);
  EXPECT_EQ(shipper.stats().resumed_batches.load(), 1u);
  EXPECT_EQ(shipper.stats().shipped_events.load(), 19u);
}

// Verifies a node whose session was cut (a failover, a restart of the server) cannot confirm
// a shipment any more, and that the batch is then finished exactly once by whoever ships next.
TEST_F(PostgresShipTest, ANodeThatLostTheLockCannotConfirm) {
  ASSERT_TRUE(store_->append(spread_events(14)));
  auto first = open_log();
  auto shipment = first->next_shipment(100, "cut-off");
  ASSERT_TRUE(shipment && *shipment);
  ASSERT_TRUE(
      admin_->exec("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"));
  ASSERT_TRUE(remote_->insert_batch("cut-off", (*shipment)->events));
  EXPECT_FALSE(first->confirm_shipment(**shipment));
  EXPECT_FALSE(first->ships_here());

  std::this_thread::sleep_for(450ms);  // the takeover poll and the grace
  Shipper shipper(*first, *remote_, clock_, options());
  drain(shipper);  // the same node again, on a new session: it checks the batch first
  EXPECT_EQ(count(), 14u);
  EXPECT_EQ(most_copies(), 1u);
  EXPECT_EQ(shipper.stats().shipped_events.load(), 0u);
}

}  // namespace
}  // namespace meter::testing

#include "billing/invoicer.h"
#include "clickhouse_fixture.h"
#include "cross_backend.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::testing {
namespace {

// Verifies an invoice computed from rollups equals the one recomputed from raw events, on the
// embedded store and on ClickHouse, for tenants whose months start at odd UTC instants.
TEST_F(ClickHouseTest, InvoicesFromRollupsEqualRawOnBothBackends) {
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  auto events = generated_month();
  ASSERT_TRUE(local.append(events));
  ASSERT_TRUE(remote_->insert_batch("month", events));

  CrossBackendBilling billing;
  billing::Invoicer embedded(local, local, billing.book, billing.zones);
  billing::Invoicer clickhouse(*remote_, local, billing.book, billing.zones);
  expect_same_invoices({&embedded, &clickhouse});
}

}  // namespace
}  // namespace meter::testing

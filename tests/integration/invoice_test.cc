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

// Verifies corrections on both backends: with every seventh event cancelled and every seventh
// amended (retraction rows and replacements shipped in a batch of their own; an amend changes
// the quantity, the type, the grouped model and the distinct user), each invoice, from rollups
// and from raw events, equals the invoice of a store that only ever had the corrected events;
// reconciliation finds no drift.
TEST_F(ClickHouseTest, CorrectedEventsLeaveInvoicesOnBothBackends) {
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"}), without({dir / "without.db"});
  auto events = generated_month();
  auto [corrections, kept] = corrected(events);
  ASSERT_TRUE(local.append(events));
  ASSERT_TRUE(local.append(corrections));
  ASSERT_TRUE(without.append(kept));
  ASSERT_TRUE(remote_->insert_batch("month", events));
  ASSERT_TRUE(remote_->insert_batch("corrections", corrections));

  for (bool other_aggregations : {false, true}) {
    CrossBackendBilling billing(other_aggregations);
    billing::Invoicer embedded(local, local, billing.book, billing.zones);
    billing::Invoicer clickhouse(*remote_, local, billing.book, billing.zones);
    billing::Invoicer expected(without, without, billing.book, billing.zones);
    expect_same_invoices({&expected, &embedded, &clickhouse});
  }
  for (int month : {202609, 202610, 202611}) {
    for (store::UsageStore* s :
         {static_cast<store::UsageStore*>(&local), static_cast<store::UsageStore*>(remote_.get())}) {
      auto checks = s->check_rollups(month, "");
      ASSERT_TRUE(checks) << checks.error().message;
      for (const auto& c : *checks)
        EXPECT_FALSE(c.drift()) << s->name() << " " << month << " " << c.tenant_id;
    }
  }
}

}  // namespace
}  // namespace meter::testing

#include <fmt/format.h>

#include "billing/export.h"
#include "billing/invoicer.h"
#include "clickhouse_fixture.h"
#include "store/clickhouse/clickhouse_usage_store.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::testing {
namespace {

// A generated month: tenants in UTC, a half-hour zone and a DST zone, events every few minutes
// from the last days of September to the first of November, several meters and fractions.
std::vector<Event> generated_month() {
  std::vector<Event> events;
  Timestamp start = *parse_rfc3339("2026-09-29T00:00:00Z");
  const char* types[] = {"query", "input_tokens", "output_tokens", "storage_gb"};
  for (int i = 0; i < 12'000; ++i) {
    Timestamp at = start + std::chrono::minutes(7 * i) + std::chrono::milliseconds((i * 37) % 1000);
    std::string quantity = std::to_string((i * 13) % 5000) + "." + std::to_string(i % 97);
    events.push_back(
        make_event("tenant_" + std::to_string(i % 3), "g" + std::to_string(i), types[i % 4], quantity, at));
    events.back().metadata = fmt::format(R"({{"model":"m{}","user":"u{}","n":{}}})", i % 5, i % 17, i % 2);
  }
  return events;
}

// Verifies an invoice computed from rollups equals the one recomputed from raw events, on the
// embedded store and on ClickHouse, for tenants whose months start at odd UTC instants.
TEST_F(ClickHouseTest, InvoicesFromRollupsEqualRawOnBothBackends) {
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  auto events = generated_month();
  ASSERT_TRUE(local.append(events));
  ASSERT_TRUE(remote_->insert_batch("month", events));

  pricing::PriceBook book = pricing::price_settings_book(*Decimal::parse("0.01"), *Decimal::parse("0.003"),
                                                         *Decimal::parse("0.015"), *Decimal::parse("0.10"));
  // Meters the rollups cannot answer: a gauge, a grouped meter, distinct users, a count.
  book.meters = {{"storage_gb", Aggregation::kMax, "", "", true},
                 {"input_tokens", Aggregation::kSum, "", "model", false},
                 {"output_tokens", Aggregation::kUniqueCount, "user", "n", false},
                 {"query", Aggregation::kCount, "", "", false}};
  quota::QuotaBook zones(quota::TenantQuota{});
  quota::TenantQuota india, berlin;
  india.time_zone = "Asia/Kolkata";
  berlin.time_zone = "Europe/Berlin";  // October has the DST change
  ASSERT_TRUE(zones.set("tenant_1", india));
  ASSERT_TRUE(zones.set("tenant_2", berlin));

  billing::Invoicer embedded(local, local, book, zones);
  billing::Invoicer clickhouse(*remote_, local, book, zones);
  for (std::string tenant : {"tenant_0", "tenant_1", "tenant_2"}) {
    std::vector<std::string> answers;
    for (billing::Invoicer* invoicer : {&embedded, &clickhouse}) {
      for (auto source : {billing::UsageSource::kRollups, billing::UsageSource::kRawEvents}) {
        auto invoice = invoicer->build(tenant, 2026, 10, source);
        ASSERT_TRUE(invoice) << invoice.error().message;
        invoice->source = "";  // the one field that says where it came from
        answers.push_back(billing::invoice_json(*invoice));
      }
    }
    for (const auto& a : answers) EXPECT_EQ(a, answers.front()) << tenant;
    EXPECT_NE(answers.front().find("\"group\":\"m4\""), std::string::npos) << answers.front();
    EXPECT_NE(answers.front().find("\"group\":\"0\""), std::string::npos);  // a numeric field as text
  }
}

}  // namespace
}  // namespace meter::testing

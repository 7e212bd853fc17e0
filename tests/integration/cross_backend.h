#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "billing/export.h"
#include "billing/invoicer.h"
#include "support/events.h"

namespace meter::testing {

// What the cross-backend tests bill generated_month() with: meters the rollups cannot answer (a
// gauge, a grouped meter, distinct users, a count), and tenants in UTC, in a half-hour zone and
// in a zone whose October has the DST change.
// With `other_aggregations`, the meters are the aggregations left: min, latest and a grouped
// max (and the same distinct users).
struct CrossBackendBilling {
  explicit CrossBackendBilling(bool other_aggregations = false) {
    book.meters = {{"storage_gb", Aggregation::kMax, "", "", true},
                   {"input_tokens", Aggregation::kSum, "", "model", false},
                   {"output_tokens", Aggregation::kUniqueCount, "user", "n", false},
                   {"query", Aggregation::kCount, "", "", false}};
    if (other_aggregations) {
      book.meters = {{"storage_gb", Aggregation::kMin, "", "", false},
                     {"input_tokens", Aggregation::kMax, "", "model", false},
                     {"output_tokens", Aggregation::kUniqueCount, "user", "n", false},
                     {"query", Aggregation::kLatest, "", "", false}};
    }
    quota::TenantQuota india, berlin;
    india.time_zone = "Asia/Kolkata";
    berlin.time_zone = "Europe/Berlin";
    (void)zones.set("tenant_1", india);
    (void)zones.set("tenant_2", berlin);
  }

  pricing::PriceBook book = pricing::price_settings_book(*Decimal::parse("0.01"), *Decimal::parse("0.003"),
                                                         *Decimal::parse("0.015"), *Decimal::parse("0.10"));
  quota::QuotaBook zones{quota::TenantQuota{}};
};

// Each tenant's October invoice, from rollups and from raw events, by every invoicer: all equal
// byte for byte (but for the field naming the source), grouped lines included.
inline void expect_same_invoices(std::initializer_list<billing::Invoicer*> invoicers) {
  for (std::string tenant : {"tenant_0", "tenant_1", "tenant_2"}) {
    std::vector<std::string> answers;
    for (billing::Invoicer* invoicer : invoicers) {
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

}  // namespace meter::testing

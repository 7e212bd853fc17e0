#include "ingest/dedupe_index.h"

#include <gtest/gtest.h>

namespace meter::ingest {
namespace {

// Verifies keys separate tenants and the (tenant, id) split cannot be confused.
TEST(DedupeIndex, KeysAreTenantScoped) {
  EXPECT_EQ(dedupe_key("a", "1"), dedupe_key("a", "1"));
  EXPECT_NE(dedupe_key("a", "1"), dedupe_key("b", "1"));
  EXPECT_NE(dedupe_key("ab", "c"), dedupe_key("a", "bc"));
}

// Verifies ids are remembered until they fall out of the window.
TEST(DedupeIndex, ExpiresOldIds) {
  InMemoryDedupeIndex index;
  auto t0 = *parse_rfc3339("2026-11-01T00:00:00Z");
  index.insert(dedupe_key("a", "old"), t0);
  index.insert(dedupe_key("a", "new"), t0 + std::chrono::days(10));
  EXPECT_EQ(index.expire(t0 + std::chrono::days(1)), 1u);
  EXPECT_FALSE(index.contains(dedupe_key("a", "old")));
  EXPECT_TRUE(index.contains(dedupe_key("a", "new")));
}

}  // namespace
}  // namespace meter::ingest

#include "server/http_types.h"

#include <gtest/gtest.h>

namespace meter::server {
namespace {

// Verifies query strings decode percent escapes and '+' and reject broken escapes.
TEST(HttpTypes, ParsesQueryStrings) {
  std::map<std::string, std::string, std::less<>> q;
  ASSERT_TRUE(parse_query("tenant_id=a%2Fb&from=2026-11-01T00%3A00%3A00Z&x=1+2&flag&&empty=", q));
  EXPECT_EQ(q["tenant_id"], "a/b");
  EXPECT_EQ(q["from"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(q["x"], "1 2");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["empty"], "");
  std::map<std::string, std::string, std::less<>> bad;
  EXPECT_FALSE(parse_query("a=%zz", bad));
  EXPECT_FALSE(parse_query("a=%2", bad));
  EXPECT_FALSE(parse_query("a=%", bad));
}

}  // namespace
}  // namespace meter::server

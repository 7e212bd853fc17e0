#include "server/json_body.h"

#include <gtest/gtest.h>

namespace meter::server {
namespace {

// Verifies numbers keep their exact text and types are checked per field.
TEST(JsonBody, ReadsExactNumbersAndChecksTypes) {
  auto body = JsonBody::parse(R"({"tenant_id": "acme", "storage_gb": 10.10, "year": 2025, "n": "5"})");
  ASSERT_TRUE(body);
  EXPECT_EQ(body->decimal("storage_gb").value()->to_string(), "10.1");
  EXPECT_EQ(**body->integer("year"), 2025);
  EXPECT_EQ(**body->string("tenant_id"), "acme");
  EXPECT_FALSE(body->string("year"));  // a number is not a string
  EXPECT_FALSE(body->integer("n"));    // a string is not a whole number
  EXPECT_FALSE(*body->string("absent"));
  EXPECT_FALSE(body->only({"tenant_id"}));
  EXPECT_TRUE(body->only({"tenant_id", "storage_gb", "year", "n"}));
}

// Verifies malformed bodies, non-objects and duplicate keys are rejected.
TEST(JsonBody, RejectsBadBodies) {
  EXPECT_FALSE(JsonBody::parse(""));
  EXPECT_FALSE(JsonBody::parse("[1]"));
  EXPECT_FALSE(JsonBody::parse(R"({"a": 1} {"b": 2})"));
  EXPECT_FALSE(JsonBody::parse(R"({"a": 1, "a": 2})"));
  EXPECT_FALSE(JsonBody::parse("{\"a\": \"\xff\"}"));
  EXPECT_FALSE(JsonBody::parse(R"({"a": -5})")->decimal("a"));
  std::string deep = "{\"a\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  auto parsed = JsonBody::parse(deep);  // must not exhaust the stack; the value is just unused
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->only({"tenant_id"}));
}

}  // namespace
}  // namespace meter::server

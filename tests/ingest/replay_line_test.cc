#include "ingest/replay_line.h"

#include <gtest/gtest.h>

namespace meter::ingest {
namespace {

// Verifies a Python service fallback line becomes a meterd event: zone-less time read as UTC, event_id
// as id, metadata string unpacked, numbers (also inside metadata) kept as written.
TEST(ReplayLineTest, ConvertsTheSeedFormat) {
  auto out = replay_line_to_event(
      R"({"tenant_id": "tenant_acme", "event_type": "input_tokens", "quantity": 1500.000000000001, )"
      R"("timestamp": "2025-11-03T10:00:00.123456", "metadata": "{\"model\": \"gpt-4\", \"n\": 1e3}", "event_id": "ev-1"})",
      0);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(
      *out,
      R"({"tenant_id":"tenant_acme","event_type":"input_tokens","quantity":1500.000000000001,)"
      R"("timestamp":"2025-11-03T10:00:00.123456Z","metadata":{"model": "gpt-4", "n": 1e3},"id":"ev-1"})");
}

// Verifies meterd's own format passes unchanged, zones and nested numbers included.
TEST(ReplayLineTest, KeepsMeterdEvents) {
  std::string line =
      R"({"id":"a","tenant_id":"t","event_type":"q","quantity":2,"timestamp":"2026-11-01T00:00:00+05:30","metadata":{"x":[1.50,{"y":null}]}})";
  auto out = replay_line_to_event(line, 0);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, line);
}

// Verifies a line without an id gets one from its bytes and occurrence: stable across runs,
// different for a repeated identical line.
TEST(ReplayLineTest, DerivesStableIds) {
  std::string line = R"({"tenant_id":"t","event_type":"q","quantity":1})";
  auto first = replay_line_to_event(line, 0);
  auto again = replay_line_to_event(line, 0);
  auto second = replay_line_to_event(line, 1);
  ASSERT_TRUE(first && again && second);
  EXPECT_EQ(*first, *again);
  EXPECT_NE(*first, *second);
  EXPECT_NE(first->find(R"("id":"replay-)"), std::string::npos);
}

// Verifies broken lines are refused with a reason.
TEST(ReplayLineTest, RefusesBrokenLines) {
  auto torn = replay_line_to_event(R"({"tenant_id":"t","event_type":"q","quan)", 0);
  ASSERT_FALSE(torn);
  EXPECT_NE(torn.error().message.find("torn"), std::string::npos) << torn.error().message;
  EXPECT_FALSE(replay_line_to_event("[1,2]", 0));
  EXPECT_FALSE(replay_line_to_event("42", 0));
  EXPECT_FALSE(replay_line_to_event(R"({"a":1} {"b":2})", 0));
  EXPECT_FALSE(replay_line_to_event(R"({"metadata":"not json"})", 0));
  EXPECT_FALSE(replay_line_to_event("{\"tenant_id\":\"\xff\"}", 0));
  EXPECT_TRUE(replay_line_to_event("{\"tenant_id\":\"t\"}  \r", 0));
}

}  // namespace
}  // namespace meter::ingest

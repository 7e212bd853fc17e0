#include "server/health.h"

#include <gtest/gtest.h>

namespace meter::server {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

HealthInputs at_now() {
  HealthInputs in;
  in.now = kNow;
  in.last_commit_ms = to_unix_ms(kNow) - 1000;
  return in;
}

// Verifies a failed last commit (a full disk) is "failing", and stops being so after a good
// commit or, with no traffic, after kFailingFor.
TEST(Health, FailedCommitIsFailingUntilRecoveredOrStale) {
  HealthInputs in = at_now();
  EXPECT_EQ(judge_health(in).status, "ok");
  in.last_failed_commit_ms = to_unix_ms(kNow) - 500;
  auto v = judge_health(in);
  EXPECT_EQ(v.status, "failing");
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_NE(v.reasons[0].find("disk"), std::string::npos);
  in.last_commit_ms = to_unix_ms(kNow) - 100;
  EXPECT_EQ(judge_health(in).status, "ok");
  in.last_commit_ms = 0;
  in.now = kNow + kFailingFor;
  EXPECT_EQ(judge_health(in).status, "ok");
}

// Verifies the shipping states: not contacted, stalled, unreachable and an old backlog are
// "degraded" with a reason each; an unreadable log is "failing".
TEST(Health, ShippingStatesDegrade) {
  HealthInputs in = at_now();
  in.ships = true;
  EXPECT_EQ(judge_health(in).reasons, std::vector<std::string>{"ClickHouse not contacted yet"});
  in.contacted = true;
  in.reachable = true;
  EXPECT_EQ(judge_health(in).status, "ok");
  in.stalled = true;
  EXPECT_EQ(judge_health(in).status, "degraded");
  in.stalled = false;
  in.reachable = false;
  EXPECT_EQ(judge_health(in).reasons, std::vector<std::string>{"ClickHouse is unreachable"});
  in.reachable = true;
  in.oldest_waiting = kNow - kBacklogAgeLimit - std::chrono::seconds(1);
  EXPECT_EQ(judge_health(in).status, "degraded");
  in.oldest_waiting = kNow - std::chrono::seconds(10);
  EXPECT_EQ(judge_health(in).status, "ok");
  in.log_error = "reading the local log failed";
  EXPECT_EQ(judge_health(in).status, "failing");
}

}  // namespace
}  // namespace meter::server

#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace meter::server {

// What /health judges the node by. Times are Unix milliseconds; 0 = never.
struct HealthInputs {
  Timestamp now;
  std::int64_t last_commit_ms = 0;
  std::int64_t last_failed_commit_ms = 0;
  bool ships = false;  // a remote backend (ClickHouse) is configured; the fields below apply
  bool contacted = false;
  bool reachable = false;
  bool stalled = false;                     // a shipment in flight past its timeout
  std::optional<Timestamp> oldest_waiting;  // the oldest event not yet shipped
  std::optional<std::string> log_error;     // the local log could not be read
};

// "ok", "degraded" (serving, with reasons) or "failing" (a load balancer should take the node
// out: 503).
struct HealthVerdict {
  std::string status = "ok";
  std::vector<std::string> reasons;
};

// A failed commit newer than the last good one is "failing" for at most kFailingFor, so a
// node nobody sends to any more (a load balancer took it out) can come back; events waiting
// longer than kBacklogAgeLimit to be shipped are "degraded".
inline constexpr std::chrono::seconds kFailingFor{30};
inline constexpr std::chrono::minutes kBacklogAgeLimit{5};

HealthVerdict judge_health(const HealthInputs& in);

}  // namespace meter::server

#include "server/health.h"

namespace meter::server {
namespace {

void degrade(HealthVerdict& v, std::string why) {
  if (v.status == "ok") v.status = "degraded";
  v.reasons.push_back(std::move(why));
}

void fail(HealthVerdict& v, std::string why) {
  v.status = "failing";
  v.reasons.push_back(std::move(why));
}

}  // namespace

HealthVerdict judge_health(const HealthInputs& in) {
  HealthVerdict v;
  std::int64_t now_ms = to_unix_ms(in.now);
  if (in.last_failed_commit_ms > in.last_commit_ms &&
      now_ms - in.last_failed_commit_ms < std::chrono::milliseconds(kFailingFor).count()) {
    fail(v, "the last write to the store failed (disk full or unwritable?); see the log");
  }
  if (!in.ships) return v;
  if (in.log_error) fail(v, *in.log_error);
  if (!in.contacted) {
    degrade(v, "ClickHouse not contacted yet");
  } else if (in.stalled) {
    degrade(v, "a shipment to ClickHouse has not been answered in time");
  } else if (!in.reachable) {
    degrade(v, "ClickHouse is unreachable");
  }
  if (in.oldest_waiting && in.now - *in.oldest_waiting > kBacklogAgeLimit) {
    degrade(v, "events have waited over 5 minutes to be shipped to ClickHouse");
  }
  return v;
}

}  // namespace meter::server

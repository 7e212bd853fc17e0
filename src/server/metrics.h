#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace meter::server {

// Events rejected at the HTTP edge, by reason: the event field that was wrong (quantity,
// timestamp, ...), "unknown_field" for a field an event may not have, "body" for a request that
// could not be read, "rate_limit" for the per-tenant ingest rate. Reasons come from this fixed
// set, never from the request, so a client can neither forge /metrics lines nor grow them.
// Quota refusals are counted by the ingestor. Thread-safe, lock-free.
class RejectCounts {
 public:
  static constexpr std::array<std::string_view, 10> kReasons = {
      "body",     "rate_limit", "id",       "tenant_id",     "event_type",
      "quantity", "timestamp",  "metadata", "unknown_field", "other"};

  // `reason` is a field name or one of kReasons; anything else counts as unknown_field.
  void add(std::string_view reason, std::uint64_t n = 1);
  // Appends meterd_events_rejected_total{reason="..."} lines (the reasons seen so far).
  void render(std::string& out) const;

 private:
  std::array<std::atomic<std::uint64_t>, kReasons.size()> counts_{};
};

}  // namespace meter::server

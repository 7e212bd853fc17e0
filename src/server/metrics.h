#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace meter::server {

// Events rejected at the HTTP edge, by reason: the field that was wrong (quantity, timestamp,
// ...), "body" for a request that could not be read, "rate_limit" for the per-tenant ingest
// rate. Quota refusals are counted by the ingestor. Thread-safe; rejections are the rare path.
class RejectCounts {
 public:
  void add(std::string_view reason, std::uint64_t n = 1);
  // Appends meterd_events_rejected_total{reason="..."} lines.
  void render(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> counts_;  // GUARDED_BY(mutex_)
};

}  // namespace meter::server

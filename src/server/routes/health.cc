#include "server/json.h"
#include "server/routes/api_context.h"

namespace meter::server {

void add_health_routes(Router& router, const ApiContext& api) {
  router.add("GET", "/health", Access::kPublic, [&api](HttpRequest&, const PathParams&, Responder& respond) {
    const auto& counters = api.ingestor.counters();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(api.clock.now() - api.started_at);
    JsonOut out;
    out.begin_object();
    out.key("status").str("ok");
    out.key("version").str(api.version);
    out.key("store").str(api.store.name());
    out.key("queue_depth").num(static_cast<std::int64_t>(api.ingestor.queued_events()));
    out.key("dedupe_ids").num(static_cast<std::int64_t>(api.ingestor.dedupe_size()));
    out.key("events_accepted").num(static_cast<std::int64_t>(counters.accepted.load()));
    out.key("events_duplicate").num(static_cast<std::int64_t>(counters.duplicates.load()));
    out.key("events_refused").num(static_cast<std::int64_t>(counters.refused.load()));
    out.key("failed_commits").num(static_cast<std::int64_t>(counters.failed_commits.load()));
    out.key("commits").num(static_cast<std::int64_t>(counters.commits.load()));
    out.key("uptime_seconds").num(uptime.count());
    if (api.shipper != nullptr) {
      // Events acknowledged into the local log and not yet in ClickHouse.
      const auto& shipped = api.shipper->stats();
      out.key("backend").begin_object();
      out.key("reachable").boolean(shipped.backend_up.load());
      out.key("backlog_events").num(shipped.backlog_events.load());
      out.key("oldest_waiting_seconds").num(shipped.oldest_waiting_ms.load() / 1000);
      out.key("shipped_events").num(static_cast<std::int64_t>(shipped.shipped_events.load()));
      out.key("shipped_batches").num(static_cast<std::int64_t>(shipped.shipped_batches.load()));
      out.key("failures").num(static_cast<std::int64_t>(shipped.failures.load()));
      if (!shipped.backend_up.load()) out.key("last_error").str(api.shipper->last_error());
      out.end_object();
    }
    out.end_object();
    respond(out.response());
  });
}

}  // namespace meter::server

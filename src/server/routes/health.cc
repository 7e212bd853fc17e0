#include "server/health.h"

#include "server/json.h"
#include "server/routes/api_context.h"

namespace meter::server {

void add_health_routes(Router& router, const ApiContext& api) {
  router.add("GET", "/health", Access::kPublic, [&api](HttpRequest&, const PathParams&, Responder& respond) {
    const auto& counters = api.ingestor.counters();
    Timestamp now = api.clock.now();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - api.started_at);
    HealthInputs in;
    in.now = now;
    in.last_commit_ms = counters.last_commit_ms.load();
    in.last_failed_commit_ms = counters.last_failed_commit_ms.load();
    std::optional<Result<store::Backlog>> backlog;
    if (api.shipper != nullptr) {
      // Read from the local log now: the shipper's own figures are as old as its last poll,
      // which a hung ClickHouse delays.
      backlog = api.shipper->backlog();
      const auto& s = api.shipper->stats();
      in.ships = true;
      in.contacted = s.contacted.load();
      in.stalled = api.shipper->stalled();
      in.reachable = s.backend_up.load() && !in.stalled;
      if (*backlog)
        in.oldest_waiting = (*backlog)->oldest_received;
      else
        in.log_error = (*backlog).error().message;
    }
    HealthVerdict verdict = judge_health(in);

    JsonOut out;
    out.begin_object();
    out.key("status").str(verdict.status);
    out.key("reasons").begin_array();
    for (const auto& r : verdict.reasons) out.str(r);
    out.end_array();
    out.key("version").str(api.version);
    out.key("store").str(api.usage.name());
    out.key("queue_depth").num(static_cast<std::int64_t>(api.ingestor.queued_events()));
    out.key("dedupe_ids").num(static_cast<std::int64_t>(api.ingestor.dedupe_size()));
    out.key("dedupe_filter_ready").boolean(api.ingestor.dedupe_filter_ready());
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
      out.key("contacted").boolean(shipped.contacted.load());
      out.key("reachable").boolean(in.reachable);
      out.key("ships_here").boolean(api.shipper->ships_here());
      std::int64_t events = 0, oldest_seconds = 0;
      if (*backlog) {
        events = (*backlog)->events;
        if ((*backlog)->oldest_received) {
          oldest_seconds =
              std::chrono::duration_cast<std::chrono::seconds>(now - *(*backlog)->oldest_received).count();
        }
      }
      out.key("backlog_events").num(events);
      out.key("oldest_waiting_seconds").num(std::max<std::int64_t>(0, oldest_seconds));
      out.key("shipped_events").num(static_cast<std::int64_t>(shipped.shipped_events.load()));
      out.key("shipped_batches").num(static_cast<std::int64_t>(shipped.shipped_batches.load()));
      out.key("failures").num(static_cast<std::int64_t>(shipped.failures.load()));
      if (!shipped.backend_up.load()) out.key("last_error").str(api.shipper->last_error());
      out.end_object();
    }
    out.end_object();
    HttpResponse response = out.response();
    if (verdict.status == "failing") response.status = 503;
    respond(std::move(response));
  });
}

}  // namespace meter::server

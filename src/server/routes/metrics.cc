// GET /metrics: Prometheus' text format (version 0.0.4).
#include <fmt/format.h>

#include "server/routes/api_context.h"

namespace meter::server {
namespace {

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::string_view value_lines) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{3}", name, help, type,
                 value_lines);
}

std::string line(std::string_view name, std::int64_t value) { return fmt::format("{} {}\n", name, value); }

}  // namespace

void add_metrics_routes(Router& router, const ApiContext& api) {
  router.add(
      "GET", "/metrics", Access::kPublic, [&api, &router](HttpRequest&, const PathParams&, Responder& r) {
        const auto& c = api.ingestor.counters();
        std::string out;
        auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
          metric(out, name, "counter", help, line(name, static_cast<std::int64_t>(v)));
        };
        auto gauge = [&](std::string_view name, std::string_view help, std::int64_t v) {
          metric(out, name, "gauge", help, line(name, v));
        };
        counter("meterd_events_accepted_total", "Events stored (acknowledged durable).", c.accepted.load());
        counter("meterd_events_deduplicated_total", "Events whose id was already stored.",
                c.duplicates.load());
        counter("meterd_events_quota_rejected_total", "Events refused by a hard quota or hard credit.",
                c.refused.load());
        std::string rejected;
        api.rejects.render(rejected);
        metric(out, "meterd_events_rejected_total", "counter", "Events rejected before storing, by reason.",
               rejected);
        counter("meterd_commits_total", "Group commits (one fsync each).", c.commits.load());
        counter("meterd_commit_failures_total", "Group commits the store failed (nothing acknowledged).",
                c.failed_commits.load());
        out +=
            "# HELP meterd_commit_duration_seconds One group commit: append and fsync.\n"
            "# TYPE meterd_commit_duration_seconds histogram\n";
        c.commit_latency.render(out, "meterd_commit_duration_seconds", "");
        gauge("meterd_ingest_queue_events", "Events waiting for the writer.",
              static_cast<std::int64_t>(api.ingestor.queued_events()));
        if (api.shipper != nullptr) {
          const auto& s = api.shipper->stats();
          gauge("meterd_log_backlog_events", "Acknowledged events in the local log not yet in ClickHouse.",
                s.backlog_events.load());
          gauge("meterd_log_oldest_age_seconds", "Age of the oldest event waiting in the local log.",
                s.oldest_waiting_ms.load() / 1000);
          gauge("meterd_backend_up", "1 when the last shipment to ClickHouse succeeded.",
                s.backend_up.load() ? 1 : 0);
          counter("meterd_shipped_events_total", "Events shipped to ClickHouse.", s.shipped_events.load());
          counter("meterd_shipped_batches_total", "Batches shipped to ClickHouse.", s.shipped_batches.load());
          counter("meterd_backend_errors_total", "Failed shipments to ClickHouse (retried).",
                  s.failures.load());
          out +=
              "# HELP meterd_ship_duration_seconds One batch: read from the log, insert, confirm.\n"
              "# TYPE meterd_ship_duration_seconds histogram\n";
          s.batch_latency.render(out, "meterd_ship_duration_seconds", "");
        }
        if (api.notifier != nullptr) {
          counter("meterd_quota_alerts_total", "Quota alerts fired.", api.notifier->fired());
          counter("meterd_quota_alert_delivery_failures_total", "Alert webhooks that failed every retry.",
                  api.notifier->failed_deliveries());
          counter("meterd_credit_notices_total", "Credit notices fired (low, depleted, top-up, expiring).",
                  api.notifier->credit_notices());
        }
        if (api.credits != nullptr) {
          const auto& book = api.credits->book();
          counter("meterd_credit_refused_total",
                  "Events refused because their tenant's credit could not pay.", book.refused());
          counter("meterd_credit_burning_events_total", "Events stored that burnt credit or gave it back.",
                  book.burning_events());
          gauge("meterd_credit_tenants", "Tenants with prepaid credit.",
                static_cast<std::int64_t>(book.accounts()));
        }
        router.render_metrics(out);
        HttpResponse response;
        response.content_type = "text/plain; version=0.0.4";
        response.body = std::move(out);
        r(std::move(response));
      });
}

}  // namespace meter::server

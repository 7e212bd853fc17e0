#include <spdlog/spdlog.h>

#include <cstdio>
#include <future>

#include "auth/authenticator.h"
#include "billing/invoicer.h"
#include "cli/commands.h"
#include "cli/stores.h"
#include "config/plans.h"
#include "core/clock.h"
#include "ingest/dedupe_snapshot.h"
#include "ingest/ingestor.h"
#include "ingest/quota_admission.h"
#include "notify/webhook_notifier.h"
#include "server/http_server.h"
#include "server/read_pool.h"
#include "server/routes/api_context.h"

namespace meter::cli {
namespace {

// True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach.
bool is_loopback(std::string_view listen) {
  std::string_view host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1";
}

// server.web_dir, or the repository's web/ beside the build folder (build/meterd -> web/), or
// ./web.
std::filesystem::path web_dir(const config::Config& c) {
  if (!c.web_dir.empty()) return c.web_dir;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && std::filesystem::exists(exe.parent_path().parent_path() / "web" / "openapi.json")) {
    return exe.parent_path().parent_path() / "web";
  }
  return "web";
}

// Writes the dedupe index out for the next start, but only if every event stored since this
// start came through this meterd: events another process stored in the folder meanwhile (a
// tracker's store sink) are not in the index, so the next start must read them from the store.
void save_dedupe_index(store::Store& store, const ingest::InMemoryDedupeIndex& index,
                       const store::RowCursor& at_start, std::uint64_t stored_here,
                       const std::filesystem::path& path, Timestamp complete_since) {
  auto now = store.row_cursor();  // before counting: a row added in between makes the counts differ
  auto stored = store.rows_after(at_start);
  if (!now || !stored) {
    spdlog::warn("dedupe index not saved ({}); the next start rebuilds it from the events",
                 (!now ? now.error() : stored.error()).message);
    return;
  }
  if (static_cast<std::uint64_t>(*stored) != stored_here) {
    spdlog::info(
        "dedupe index not saved: {} events were stored since start, {} of them by this meterd; the next "
        "start rebuilds it from the events",
        *stored, stored_here);
    return;
  }
  if (auto s = ingest::save_dedupe_snapshot(path, index, {complete_since, *now}); !s) {
    spdlog::warn("{}; the next start rebuilds the dedupe index from the events", s.error().message);
  }
}

}  // namespace

int run_serve(const config::LoadedConfig& loaded, bool demo) {
  const config::Config& c = loaded.config;
  setup_logging(c);
  SystemClock clock;
  if (auto s = notify::WebhookNotifier::check_url(c.webhook_url); !s) {
    spdlog::critical("{}", s.error().message);
    return 1;
  }

  auto stores = open_stores(c, clock, StoreUse::kServe);
  if (!stores) return 1;
  store::Store* store = &stores->store();
  if (demo) {
    auto loaded_demo = load_demo(*store, clock.now());
    if (!loaded_demo) {
      spdlog::critical("cannot load the demo data: {}", loaded_demo.error().message);
      return 1;
    }
    spdlog::info("{}", *loaded_demo);
  }
  ClickHouse* clickhouse = stores->clickhouse.get();
  std::filesystem::path db_path = c.data_dir / "meterd.db";

  // Quotas: every tenant's settings in memory, and live counters rebuilt from the usage of the
  // current and previous UTC month (enough for the current day and month in any zone).
  quota::TenantQuota default_quota;
  default_quota[quota::Meter::kQueries].per_day = Decimal::from_integer(c.default_quota_queries);
  default_quota[quota::Meter::kTokens].per_day = Decimal::from_integer(c.default_quota_tokens);
  // Counters are kept for a late event's period: the late window and a month besides.
  quota::QuotaBook quotas(default_quota, std::chrono::days(c.late_window_days + 32));
  notify::WebhookNotifier notifier(*store, {c.webhook_url, c.webhook_secret});
  ingest::QuotaAdmission admission(quotas, &notifier, c.alert_thresholds);
  if (auto tenants = store->list_quotas(); !tenants) {
    spdlog::critical("cannot read quota settings: {}", tenants.error().message);
    return 1;
  } else {
    for (const auto& [tenant, q] : *tenants) {
      if (auto s = quotas.set(tenant, q); !s)
        spdlog::warn("tenant {}: {}; using UTC", tenant, s.error().message);
    }
  }
  // The quota counters (from quarter-hour rollups; gauges from their raw events) and the dedupe
  // index (from the ids of recent events) are rebuilt at the same time, each on its own reader
  // connection: a restart takes the longer of the two scans, not their sum. Nothing is served
  // before both are done.
  Timestamp recount_from =
      floor_to(Window::kMonth, floor_to(Window::kMonth, clock.now()) - std::chrono::days(1));
  auto recounted = std::async(std::launch::async, [&] {
    auto started = std::chrono::steady_clock::now();
    // Counted meters from quarter-hour sums; gauges (maxima) from their events.
    auto summable = [](std::string_view type) {
      auto meter = quota::meter_of(type);
      return !meter || !quota::is_gauge(*meter);
    };
    auto s = store->scan_for_quotas(recount_from, summable,
                                    [&](std::string_view t, std::string_view type, Decimal q, Timestamp ts) {
                                      admission.recount(t, type, q, ts);
                                    });
    if (s) {
      spdlog::info(
          "quota counters rebuilt from usage since {}, in {} ms", format_rfc3339(recount_from),
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
              .count());
    }
    return s;
  });

  ingest::InMemoryDedupeIndex dedupe;
  ingest::IngestorOptions ingest_options;
  ingest_options.dedupe_window = std::chrono::days(c.dedupe_window_days);
  ingest_options.late_window = std::chrono::days(c.late_window_days);
  ingest::Ingestor ingestor(*store, dedupe, clock, ingest_options, &admission);
  // The index saved by the last clean stop, if any, then the events stored since it.
  auto snapshot_path = c.data_dir / "dedupe.snapshot";
  auto rows_at_start = store->row_cursor();
  if (!rows_at_start) {
    spdlog::critical("cannot read the stored events: {}", rows_at_start.error().message);
    return 1;
  }
  auto snapshot = ingest::load_dedupe_snapshot(snapshot_path, dedupe,
                                               clock.now() - ingest_options.dedupe_window, *rows_at_start);
  auto started = ingestor.start(snapshot ? &*snapshot : nullptr);
  if (auto s = recounted.get(); !s) {
    spdlog::critical("cannot rebuild the quota counters: {}", s.error().message);
    return 1;
  }
  if (!started) {
    spdlog::critical("cannot start ingestion: {}", started.error().message);
    return 1;
  }
  if (clickhouse) clickhouse->shipper.start();
  notifier.resume();

  ingest::IngestLimits limits;
  limits.max_events_per_request = c.max_events_per_request;
  limits.max_metadata_bytes = c.max_metadata_bytes;
  limits.max_metadata_depth = c.max_metadata_depth;

  auth::Authenticator authenticator(c.data_dir / "keys.db", clock);
  try {
    authenticator.load();
  } catch (const std::exception& e) {
    spdlog::critical("cannot open {}: {}", (c.data_dir / "keys.db").string(), e.what());
    return 1;
  }
  authenticator.allow_open_mode(is_loopback(c.listen));
  if (authenticator.active_keys() == 0) {
    if (!is_loopback(c.listen)) {
      spdlog::critical(
          "refusing to serve {} without API keys: anyone could read and write every tenant's "
          "usage. Create a key first: meterd keys create --admin --data-dir {}",
          c.listen, c.data_dir.string());
      return 1;
    }
    if (authenticator.open_mode()) {
      spdlog::warn(
          "no API keys: serving without authentication, on loopback only. "
          "Create one with: meterd keys create --admin");
    } else {
      spdlog::warn(
          "every API key in {} is revoked: nobody can call the API until an admin creates one with: "
          "meterd keys create --admin --data-dir {}",
          (c.data_dir / "keys.db").string(), c.data_dir.string());
    }
  }
  server::Router router(&authenticator);
  server::ReadPoolOptions reads;
  reads.threads = c.read_threads;
  reads.deadline = c.read_deadline;
  server::ReadPool read_pool(reads);
  router.set_read_pool(&read_pool);
  ingest::RateLimiter rate_limiter(clock, c.rate_limit_events_per_second, c.rate_limit_burst);
  auto book = config::price_book(c);
  if (!book) {
    spdlog::critical("{}", book.error().message);
    return 1;
  }
  const pricing::PriceBook& price_book = *book;
  billing::Invoicer invoicer(*store, price_book, quotas);
  server::RejectCounts rejects;
  server::ApiContext api{
      ingestor,    *store,     clock,     limits,        METER_VERSION,
      clock.now(), price_book, quotas,    &rate_limiter, clickhouse ? &clickhouse->shipper : nullptr,
      invoicer,    rejects,    &notifier, web_dir(c)};
  server::add_health_routes(router, api);
  server::add_ingest_routes(router, api);
  server::add_usage_routes(router, api);
  server::add_quota_routes(router, api);
  server::add_invoice_routes(router, api);
  server::add_metrics_routes(router, api);
  server::add_web_routes(router, api);

  server::HttpServerOptions http;
  http.listen = c.listen;
  http.workers = c.workers;
  http.max_body_bytes = c.max_body_bytes;
  http.max_header_bytes = c.max_header_bytes;
  http.max_connections = c.max_connections;
  http.max_connections_per_client = c.max_connections_per_client;
  http.max_unauthenticated_connections = c.max_unauthenticated_connections;
  http.idle_timeout = c.idle_timeout;
  http.read_timeout = c.read_timeout;
  http.on_stop = [&read_pool] { read_pool.cancel(); };
  server::HttpServer server(http, router);
  if (auto listening = server.listen(); !listening) {
    spdlog::critical("{}", listening.error().message);
    return 1;
  }
  std::string host = c.listen.substr(0, c.listen.rfind(':'));
  std::string where =
      clickhouse ? clickhouse->client.url() + ", local log " + db_path.string() : db_path.string();
  std::printf("meterd %s serving http://%s:%u (store: %s at %s)\n", METER_VERSION, host.c_str(),
              static_cast<unsigned>(server.port()), std::string(store->name()).c_str(), where.c_str());
  std::fflush(stdout);

  server.run();
  read_pool.stop();
  ingestor.stop();
  save_dedupe_index(*store, dedupe, *rows_at_start, ingestor.counters().accepted.load(), snapshot_path,
                    clock.now() - ingest_options.dedupe_window);
  if (clickhouse) clickhouse->shipper.stop();
  spdlog::info("stopped; every acknowledged event is stored ({} accepted this run)",
               ingestor.counters().accepted.load());
  return 0;
}

int run_config_show(const config::LoadedConfig& loaded) {
  std::fputs(config::render_config(loaded).c_str(), stdout);
  return 0;
}

}  // namespace meter::cli

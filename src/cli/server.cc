#include "cli/server.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <future>

#include "cli/commands.h"
#include "config/plans.h"
#include "ingest/dedupe_snapshot.h"

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

Error startup(std::string message) { return Error::unavailable(std::move(message)); }

}  // namespace

Server::Server(const config::Config& config, bool demo) : c_(config), demo_(demo) {}

Server::~Server() { stop(); }

Status Server::open_stores() {
  if (auto s = notify::WebhookNotifier::check_url(c_.webhook_url); !s) return s;
  stores_ = cli::open_stores(c_, clock_, StoreUse::kServe);
  if (!stores_) return fail(startup("the store could not be opened (see above)"));
  if (demo_) {
    auto loaded = load_demo(*stores_, clock_.now());
    if (!loaded) return fail(startup("cannot load the demo data: " + loaded.error().message));
    spdlog::info("{}", *loaded);
  }
  // Quotas: every tenant's settings in memory; the counters come in rebuild_state().
  quota::TenantQuota defaults;
  defaults[quota::Meter::kQueries].per_day = Decimal::from_integer(c_.default_quota_queries);
  defaults[quota::Meter::kTokens].per_day = Decimal::from_integer(c_.default_quota_tokens);
  // Counters are kept for a late event's period: the late window and a month besides.
  quotas_ = std::make_unique<quota::QuotaBook>(defaults, std::chrono::days(c_.late_window_days + 32));
  notifier_ = std::make_unique<notify::WebhookNotifier>(
      stores_->records(), notify::WebhookOptions{c_.webhook_url, c_.webhook_secret});
  admission_ = std::make_unique<ingest::QuotaAdmission>(*quotas_, notifier_.get(), c_.alert_thresholds);
  if (stores_->shared) admission_->share_counters(stores_->shared.get());
  if (stores_->shared) {
    follower_ = std::make_unique<SettingsFollower>(*stores_->shared, *quotas_);
    if (auto s = follower_->load(); !s)
      return fail(startup("cannot read quota settings: " + s.error().message));
  } else if (auto s = load_quota_settings(stores_->records(), *quotas_); !s) {
    return fail(startup("cannot read quota settings: " + s.error().message));
  }
  auto book = config::price_book(c_);
  if (!book) return fail(book.error());
  price_book_ = std::move(*book);
  invoicer_ =
      std::make_unique<billing::Invoicer>(stores_->usage(), stores_->records(), *price_book_, *quotas_);
  if (stores_->clickhouse) {
    log_invoicer_ =
        std::make_unique<billing::Invoicer>(stores_->log_usage(), stores_->records(), *price_book_, *quotas_);
  }
  if (auto s = open_credits(); !s) return s;
  if (follower_) {
    // What other nodes change: plans reprice the lines, credit changes reload the tenants.
    follower_->follow(
        [credits =
             credits_.get()](const std::vector<std::pair<std::string, store::TenantSettings>>& changed) {
          for (const auto& [tenant, s] : changed) credits->plan_changed(tenant, s.plan);
        },
        &stores_->credit_ledger(),
        [admission = credit_admission_.get()](std::vector<std::string> tenants) {
          admission->changed_elsewhere(std::move(tenants));
        });
  }
  return {};
}

Status Server::open_credits() {
  // Prepaid credit burns in the writer, in front of the quotas; its line state comes from the
  // log's own usage (ClickHouse lags it).
  store::CreditLedger& ledger = stores_->credit_ledger();
  credits_ = std::make_unique<ingest::CreditService>(*price_book_, *quotas_, ledger);
  auto settings = stores_->records().list_settings();
  if (!settings) return fail(startup("cannot read tenant settings: " + settings.error().message));
  std::vector<std::pair<std::string, std::optional<std::string>>> plans;
  for (const auto& [tenant, s] : *settings) plans.emplace_back(tenant, s.plan);
  if (auto s = credits_->load(plans); !s)
    return fail(startup("cannot read prepaid credit: " + s.error().message));
  billing::Invoicer* log = log_invoicer_ ? log_invoicer_.get() : invoicer_.get();
  invoicer_->set_credits(&ledger);
  log->set_credits(&ledger);
  // A finalized month's credit: its rounding true-up is booked once, in the ledger and the book.
  invoicer_->on_finalized = [credits = credits_.get()](const billing::Invoice& invoice) -> Status {
    std::vector<ingest::CreditService::Applied> lines;
    if (invoice.credits) {
      for (const auto& a : invoice.credits->applied)
        lines.push_back({a.grant_id, a.event_type, a.burnt, a.applied});
    }
    return credits->book_trueup(invoice.tenant_id, invoice.year * 100 + invoice.month, std::move(lines));
  };
  // A note that gives back what a finalized month's lines no longer need of their credit.
  auto restore = [credits = credits_.get()](const std::string& tenant, int month, const std::string& note,
                                            const std::vector<credits::Restored>& restored) {
    return credits->restore(tenant, month, note, restored);
  };
  invoicer_->on_credit_restored = restore;
  log->on_credit_restored = restore;
  auto month_usage = [log](std::string_view tenant, int month) -> Result<std::map<std::string, Decimal>> {
    std::string id(tenant);
    billing::InvoicePeriod period = log->period(id, month / 100, month % 100);
    auto usage = log->usage(id, period.start, period.end, billing::UsageSource::kRollups);
    if (!usage) return fail(usage.error());
    std::map<std::string, Decimal> by_type;
    for (const auto& [key, quantity] : *usage)
      if (key.group.empty()) by_type[key.event_type] = quantity;
    return by_type;
  };
  auto currency_of = [credits = credits_.get()](std::string_view tenant) {
    return credits->plan_of(tenant).currency;
  };
  credit_admission_ = std::make_unique<ingest::CreditAdmission>(credits_->book(), ledger, month_usage,
                                                                admission_.get(), clock_, currency_of);
  // Notices the writer fires go to the webhook once their group is stored.
  notifier_->attach_credit_notices(ledger);
  auto send = [notifier = notifier_.get()](std::vector<credits::Notice> notices) {
    notifier->send(std::move(notices));
  };
  credit_admission_->on_notices(send);
  credit_admission_->finalized_by(
      [records = &stores_->records()](std::string_view tenant, int month) -> Result<bool> {
        auto invoice = records->finalized_invoice(std::string(tenant), month);
        if (!invoice) return fail(invoice.error());
        return invoice->has_value();
      });
  // Recurring lots, rollovers and expiry notices, booked as time passes.
  credit_calendar_ = std::make_unique<ingest::CreditCalendar>(*credits_, clock_, send);
  return {};
}

Status Server::rebuild_state() {
  // The quota counters (from quarter-hour rollups; gauges from their raw events) of the current
  // and previous UTC month (enough for the current day and month in any zone), and the dedupe
  // index (from the ids of recent events) are rebuilt at the same time, each on its own reader
  // connection: a restart takes the longer of the two scans, not their sum.
  Timestamp recount_from =
      floor_to(Window::kMonth, floor_to(Window::kMonth, clock_.now()) - std::chrono::days(1));
  auto recounted = std::async(std::launch::async, [&] {
    auto started = std::chrono::steady_clock::now();
    auto summable = [](std::string_view type) {
      auto meter = quota::meter_of(type);
      return !meter || !quota::is_gauge(*meter);
    };
    auto s = stores_->log().scan_for_quotas(
        recount_from, summable, [&](std::string_view t, std::string_view type, Decimal q, Timestamp ts) {
          admission_->recount(t, type, q, ts);
        });
    if (s) {
      spdlog::info(
          "quota counters rebuilt from usage since {}, in {} ms", format_rfc3339(recount_from),
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
              .count());
    }
    return s;
  });

  // With PostgreSQL the ids are claimed there, in the transaction that stores the events; the
  // index in memory only spares a round trip for this node's recent retries.
  ingest_options_.dedupe_window = stores_->shared ? std::chrono::milliseconds(std::chrono::hours(1))
                                                  : std::chrono::days(c_.dedupe_window_days);
  ingest_options_.late_window = std::chrono::days(c_.late_window_days);
  ingest::Admission* admission = credit_admission_ ? static_cast<ingest::Admission*>(credit_admission_.get())
                                                   : static_cast<ingest::Admission*>(admission_.get());
  auto covered = open_dedupe_index();
  if (!covered) {
    recounted.wait();
    return fail(startup(covered.error().message));
  }
  ingest::DedupeIndex& index =
      disk_dedupe_ ? static_cast<ingest::DedupeIndex&>(*disk_dedupe_) : *memory_dedupe_;
  ingestor_ = std::make_unique<ingest::Ingestor>(stores_->log(), index, clock_, ingest_options_, admission);
  if (credits_) credits_->attach(*ingestor_, *credit_admission_);
  auto started = ingestor_->start(*covered ? &**covered : nullptr);
  if (started) ingesting_ = true;
  if (auto s = recounted.get(); !s)
    return fail(startup("cannot rebuild the quota counters: " + s.error().message));
  if (!started) return fail(startup("cannot start ingestion: " + started.error().message));
  return {};
}

// The events stored past the returned cursor (all of the window's without one) are read into
// the index at start: after the disk index's checkpoint, or the snapshot of the last clean stop.
Result<std::optional<store::RowCursor>> Server::open_dedupe_index() {
  using Covered = std::optional<store::RowCursor>;
  if (stores_->shared || c_.dedupe_index == "memory") {
    memory_dedupe_ = std::make_unique<ingest::InMemoryDedupeIndex>();
    if (stores_->shared) return Covered();
    auto rows = stores_->log().row_cursor();
    if (!rows) return fail(Error::unavailable("cannot read the stored events: " + rows.error().message));
    rows_at_start_ = *rows;
    snapshot_path_ = c_.data_dir / "dedupe.snapshot";
    return ingest::load_dedupe_snapshot(snapshot_path_, *memory_dedupe_,
                                        clock_.now() - ingest_options_.dedupe_window, rows_at_start_);
  }
  ingest::DiskDedupeIndex::Options options;
  options.cache_bytes = c_.dedupe_cache_mb << 20;
  auto opened = ingest::open_disk_dedupe_index(c_.data_dir / "dedupe", options, stores_->log());
  if (!opened) {
    return fail(
        Error::unavailable(opened.error().message +
                           "; another process may be using this folder, or set METERD_DEDUPE_INDEX=memory"));
  }
  disk_dedupe_ = std::move(opened->index);
  // A snapshot left by a meterd that kept its index in memory is of no use to this one.
  std::error_code ignored;
  std::filesystem::remove(c_.data_dir / "dedupe.snapshot", ignored);
  return std::move(opened->covered);
}

Status Server::start_threads() {
  if (stores_->clickhouse) stores_->clickhouse->shipper.start();
  if (follower_) follower_->start();
  notifier_->resume();
  if (credit_calendar_) credit_calendar_->start();
  auto keys = open_key_store(c_);
  if (!keys) return fail(startup(keys.error().message));
  authenticator_ = std::make_unique<auth::Authenticator>(std::move(*keys), clock_);
  if (auto s = authenticator_->load(); !s)
    return fail(startup("cannot read the API keys in " + key_store_name(c_) + ": " + s.error().message));
  authenticator_->allow_open_mode(is_loopback(c_.listen));
  if (auto s = check_keys(); !s) return s;
  server::ReadPoolOptions reads;
  reads.threads = c_.read_threads;
  reads.deadline = c_.read_deadline;
  read_pool_ = std::make_unique<server::ReadPool>(reads);
  rate_limiter_ =
      std::make_unique<ingest::RateLimiter>(clock_, c_.rate_limit_events_per_second, c_.rate_limit_burst);
  return {};
}

// Without an active key meterd serves only loopback, and says why.
Status Server::check_keys() {
  if (authenticator_->active_keys() > 0) return {};
  if (!is_loopback(c_.listen)) {
    return fail(
        startup(fmt::format("refusing to serve {} without API keys: anyone could read and write every "
                            "tenant's usage. Create a key "
                            "first: meterd keys create --admin {}",
                            c_.listen, key_store_flag(c_))));
  }
  if (authenticator_->open_mode()) {
    spdlog::warn(
        "no API keys: serving without authentication, on loopback only. Create one with: meterd keys "
        "create --admin");
  } else {
    spdlog::warn(
        "every API key in {} is revoked: nobody can call the API until an admin creates one with: meterd "
        "keys create --admin {}",
        key_store_name(c_), key_store_flag(c_));
  }
  return {};
}

Status Server::listen() {
  ingest::IngestLimits limits;
  limits.max_events_per_request = c_.max_events_per_request;
  limits.max_metadata_bytes = c_.max_metadata_bytes;
  limits.max_metadata_depth = c_.max_metadata_depth;
  ClickHouse* clickhouse = stores_->clickhouse.get();
  decltype(server::ApiContext::stored_usage) stored_usage;
  decltype(server::ApiContext::cached_usage) cached_usage;
  if (stores_->shared) {
    usage_cache_ =
        std::make_unique<store::postgres::UsageCache>(*stores_->shared, c_.store_url, c_.store_timeout);
    usage_cache_->start();
    stored_usage = [cache = usage_cache_.get()](std::string_view tenant,
                                                std::span<const store::UsageWindow> windows) {
      return cache->stored_usage(tenant, windows);
    };
    cached_usage = [cache = usage_cache_.get()](std::string_view tenant,
                                                std::span<const store::UsageWindow> windows) {
      return cache->cached(tenant, windows);
    };
  }
  api_ = std::make_unique<server::ApiContext>(
      server::ApiContext{*ingestor_,
                         stores_->usage(),
                         stores_->records(),
                         clock_,
                         limits,
                         METER_VERSION,
                         clock_.now(),
                         *price_book_,
                         *quotas_,
                         rate_limiter_.get(),
                         clickhouse ? &clickhouse->shipper : nullptr,
                         *invoicer_,
                         rejects_,
                         notifier_.get(),
                         web_dir(c_),
                         std::move(stored_usage),
                         std::move(cached_usage),
                         c_.cloud_events,
                         &stores_->log(),
                         std::chrono::days(c_.correction_window_days),
                         log_invoicer_ ? log_invoicer_.get() : invoicer_.get(),
                         credits_.get(),
                         credit_calendar_.get()});

  router_ = std::make_unique<server::Router>(authenticator_.get());
  router_->set_read_pool(read_pool_.get());
  for (auto add : {server::add_health_routes, server::add_ingest_routes, server::add_usage_routes,
                   server::add_quota_routes, server::add_invoice_routes, server::add_metrics_routes,
                   server::add_web_routes, server::add_correction_routes, server::add_credit_routes,
                   server::add_credit_rule_routes}) {
    add(*router_, *api_);
  }

  server::HttpServerOptions http;
  http.listen = c_.listen;
  http.workers = c_.workers;
  http.max_body_bytes = c_.max_body_bytes;
  http.max_header_bytes = c_.max_header_bytes;
  http.max_connections = c_.max_connections;
  http.max_connections_per_client = c_.max_connections_per_client;
  http.max_unauthenticated_connections = c_.max_unauthenticated_connections;
  http.idle_timeout = c_.idle_timeout;
  http.read_timeout = c_.read_timeout;
  http.on_stop = [pool = read_pool_.get()] { pool->cancel(); };
  http_ = std::make_unique<server::HttpServer>(http, *router_);
  if (auto listening = http_->listen(); !listening) return fail(listening.error());

  std::filesystem::path db_path = c_.data_dir / "meterd.db";
  std::string host = c_.listen.substr(0, c_.listen.rfind(':'));
  std::string log = stores_->shared ? std::string("PostgreSQL (store.url)") : db_path.string();
  std::string where = clickhouse ? clickhouse->client.url() + ", log " + log : log;
  std::printf("meterd %s serving http://%s:%u (store: %s at %s)\n", METER_VERSION, host.c_str(),
              static_cast<unsigned>(http_->port()), std::string(stores_->usage().name()).c_str(),
              where.c_str());
  std::fflush(stdout);
  return {};
}

void Server::run() { http_->run(); }

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (read_pool_) read_pool_->stop();
  if (credit_calendar_) credit_calendar_->stop();  // before the writer it books through
  if (ingesting_) {
    ingestor_->stop();
    if (memory_dedupe_ && !stores_->shared) save_dedupe_index();
  }
  if (stores_ && stores_->clickhouse) stores_->clickhouse->shipper.stop();
  if (follower_) follower_->stop();
  if (usage_cache_) usage_cache_->stop();
  if (ingesting_) {
    spdlog::info("stopped; every acknowledged event is stored ({} accepted this run)",
                 ingestor_->counters().accepted.load());
  }
}

// Writes the dedupe index out for the next start, but only if every event stored since this
// start came through this meterd: events another process stored in the folder meanwhile (a
// tracker's store sink) are not in the index, so the next start must read them from the store.
void Server::save_dedupe_index() {
  std::uint64_t stored_here = ingestor_->counters().accepted.load();
  auto now = stores_->log().row_cursor();  // before counting: a row added in between makes the counts differ
  auto stored = stores_->log().rows_after(rows_at_start_);
  if (!now || !stored) {
    spdlog::warn("dedupe index not saved ({}); the next start rebuilds it from the events",
                 (!now ? now.error() : stored.error()).message);
    return;
  }
  if (static_cast<std::uint64_t>(*stored) != stored_here) {
    spdlog::info(
        "dedupe index not saved: {} events were stored since start, {} of them by this meterd; the next "
        "start "
        "rebuilds it from the events",
        *stored, stored_here);
    return;
  }
  Timestamp complete_since = clock_.now() - ingest_options_.dedupe_window;
  if (auto s = ingest::save_dedupe_snapshot(snapshot_path_, *memory_dedupe_, {complete_since, *now}); !s) {
    spdlog::warn("{}; the next start rebuilds the dedupe index from the events", s.error().message);
  }
}

}  // namespace meter::cli

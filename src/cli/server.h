#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "auth/authenticator.h"
#include "billing/invoicer.h"
#include "cli/settings_follower.h"
#include "cli/stores.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/error.h"
#include "ingest/dedupe_index.h"
#include "ingest/disk_dedupe_index.h"
#include "ingest/ingestor.h"
#include "ingest/quota_admission.h"
#include "ingest/rate_limiter.h"
#include "notify/webhook_notifier.h"
#include "quota/quota_book.h"
#include "server/http_server.h"
#include "server/read_pool.h"
#include "server/router.h"
#include "server/routes/api_context.h"
#include "store/postgres/usage_cache.h"

namespace meter::cli {

// `meterd serve`, in the phases it goes through. Each phase either succeeds or returns the
// error that stops the start (nothing is served before listen()); stop() undoes what ran, in
// reverse order, and the destructor calls it. Members are declared in the order they are
// built, so they are destroyed after whatever uses them.
class Server {
 public:
  Server(const config::Config& config, bool demo);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The embedded store (and ClickHouse), the demo data, every tenant's quota settings.
  Status open_stores();
  // The quota counters and the dedupe index, rebuilt side by side from the store.
  Status rebuild_state();
  // The ingest writer, the shipper, webhook deliveries left pending, API keys, the read pool.
  Status start_threads();
  // Routes and the listening socket; prints "meterd VERSION serving http://HOST:PORT ...".
  Status listen();
  // Serves until SIGTERM or SIGINT, then drains the HTTP server.
  void run();
  // Read pool, ingest writer (everything acknowledged is stored), dedupe index saved for the
  // next start, shipper. Safe to call twice.
  void stop();

 private:
  Status check_keys();
  Status open_credits();
  void save_dedupe_index();
  // Opens the dedupe index and says which stored rows it already covers.
  Result<std::optional<store::RowCursor>> open_dedupe_index();

  const config::Config& c_;
  const bool demo_;
  SystemClock clock_;
  std::optional<Stores> stores_;
  std::unique_ptr<quota::QuotaBook> quotas_;
  std::unique_ptr<SettingsFollower> follower_;  // with PostgreSQL: settings changed through other nodes
  std::unique_ptr<store::postgres::UsageCache> usage_cache_;  // with PostgreSQL: what /quota/check reads
  std::unique_ptr<notify::WebhookNotifier> notifier_;
  std::unique_ptr<ingest::QuotaAdmission> admission_;
  std::optional<pricing::PriceBook> price_book_;
  std::unique_ptr<billing::Invoicer> invoicer_;
  std::unique_ptr<billing::Invoicer> log_invoicer_;  // with ClickHouse: from the log, which ClickHouse lags
  std::unique_ptr<ingest::CreditService> credits_;   // with the embedded store
  std::unique_ptr<ingest::CreditAdmission> credit_admission_;
  std::unique_ptr<ingest::CreditCalendar> credit_calendar_;
  // Whichever ingest.dedupe_index names (always the one in memory with PostgreSQL).
  std::unique_ptr<ingest::InMemoryDedupeIndex> memory_dedupe_;
  std::unique_ptr<ingest::DiskDedupeIndex> disk_dedupe_;
  ingest::IngestorOptions ingest_options_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  std::filesystem::path snapshot_path_;
  store::RowCursor rows_at_start_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<server::ReadPool> read_pool_;
  std::unique_ptr<server::Router> router_;
  std::unique_ptr<ingest::RateLimiter> rate_limiter_;
  server::RejectCounts rejects_;
  std::unique_ptr<server::ApiContext> api_;
  std::unique_ptr<server::HttpServer> http_;
  bool ingesting_ = false;  // the ingestor started: stop() must stop it and save the index
  bool stopped_ = false;
};

}  // namespace meter::cli

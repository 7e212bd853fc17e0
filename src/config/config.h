#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "ingest/cloud_event.h"
#include "ingest/ingestor.h"
#include "ingest/limits.h"
#include "pricing/plan.h"
#include "server/http_server.h"
#include "server/read_pool.h"

namespace meter::config {

// The defaults of the parts meterd wires together, which a Config starts from: each default
// is written once, where the part that uses it is.
namespace defaults {
inline const server::HttpServerOptions http{};
inline const server::ReadPoolOptions reads{};
inline const ingest::IngestLimits limits{};
inline const ingest::IngestorOptions ingest{};
inline int days(std::chrono::milliseconds d) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::days>(d).count());
}
}  // namespace defaults

// Every setting meterd has, with its default. Where a value comes from (meterd.toml, .env,
// the environment, flags) is decided by load_config(); the table of names is in settings.cc
// and in the README.
struct Config {
  // [server]
  std::string listen = defaults::http.listen;
  std::filesystem::path data_dir = "./data";
  int workers = defaults::http.workers;  // HTTP worker threads; 0 = one per core
  std::size_t max_body_bytes = defaults::http.max_body_bytes;
  std::size_t max_header_bytes = defaults::http.max_header_bytes;
  std::size_t max_connections = defaults::http.max_connections;
  std::size_t max_connections_per_client = defaults::http.max_connections_per_client;
  std::size_t max_unauthenticated_connections = defaults::http.max_unauthenticated_connections;
  std::chrono::milliseconds idle_timeout = defaults::http.idle_timeout;
  std::chrono::milliseconds read_timeout = defaults::http.read_timeout;
  // Reads of a store run on their own threads, each answered within read_deadline (504 past it).
  int read_threads = defaults::reads.threads;
  std::chrono::milliseconds read_deadline = defaults::reads.deadline;
  std::string log_level = "info";
  std::string log_format = "text";
  std::filesystem::path web_dir;  // empty: the web/ folder beside the build folder, else ./web

  // [ingest]
  std::size_t max_events_per_request = defaults::limits.max_events_per_request;
  std::size_t max_metadata_bytes = defaults::limits.max_metadata_bytes;
  int max_metadata_depth = defaults::limits.max_metadata_depth;
  int dedupe_window_days = defaults::days(defaults::ingest.dedupe_window);
  int late_window_days = defaults::days(defaults::ingest.late_window);
  // Where the dedupe window's ids are kept: "disk" (RocksDB in DATA_DIR/dedupe, with only what is
  // hot in memory) or "memory" (about 40 bytes per id, rebuilt at start). PostgreSQL claims ids itself.
  std::string dedupe_index = "disk";
  std::size_t dedupe_cache_mb = 128;
  std::uint64_t rate_limit_events_per_second = 100'000;  // per tenant; 0 = off
  std::uint64_t rate_limit_burst = 200'000;
  // [cloudevents]: how CloudEvents become events (config/cloud_events.h)
  ingest::CloudEventMappings cloud_events;

  // [corrections] (docs/corrections.md): how long after an event it may be cancelled; 0 = until
  // its month's invoice is finalized
  int correction_window_days = 0;

  // [buffer] (Python service: BUFFER_SIZE, FLUSH_INTERVAL_SECONDS): batches shipped to a remote backend
  std::size_t buffer_size = 10'000;  // the Python service used 100; bench/clickhouse.sh shows why larger
  std::chrono::milliseconds flush_interval = std::chrono::seconds(1);
  // Most events in one insert while a larger backlog waits (after an outage, or a slow backend):
  // fewer, larger inserts catch up faster, on a cluster above all (bench/clickhouse.sh).
  std::size_t catch_up_size = 100'000;
  std::filesystem::path fallback_file_path = "./usage_events_fallback.jsonl";

  // [store] the shared store several nodes use (docs/postgresql.md); empty = the embedded one
  std::string store_url;  // postgresql://... (libpq URL or connection string)
  std::chrono::milliseconds store_timeout = std::chrono::seconds(10);

  // [clickhouse] (Python service: CLICKHOUSE_*); empty host = embedded store only
  std::string clickhouse_host;
  int clickhouse_port = 8123;
  std::string clickhouse_user = "default";
  std::string clickhouse_password;
  std::string clickhouse_database = "metering";
  // A cluster from ClickHouse's remote_servers: replicated local tables and Distributed ones
  // over them, sharded by tenant (docs/clickhouse.md, "A cluster"); empty = one server.
  std::string clickhouse_cluster;
  // A shipment in flight longer than this (or a query) counts ClickHouse as unreachable.
  std::chrono::milliseconds clickhouse_timeout = std::chrono::seconds(30);

  // [pricing] (Python service: PRICE_*), the default plan
  Decimal price_per_query = *Decimal::parse("0.01");
  Decimal price_per_1k_input_tokens = *Decimal::parse("0.003");
  Decimal price_per_1k_output_tokens = *Decimal::parse("0.015");
  Decimal price_per_gb_storage = *Decimal::parse("0.10");
  // [billing] and [plans.NAME] tables: named plans (config/plans.cc); tenants without a plan
  // of their own are billed on default_plan. "default" is the Python service's PRICE_* plan unless a
  // [plans.default] table replaces it.
  std::string default_plan = "default";
  std::vector<pricing::Plan> plans;
  std::vector<pricing::MeterDef> meters;  // [meters.EVENT_TYPE]: how a month's events aggregate

  // [quota] (Python service: DEFAULT_QUOTA_*), per tenant per day
  std::int64_t default_quota_queries = 1000;
  std::int64_t default_quota_tokens = 100'000;
  std::vector<int> alert_thresholds = {80, 100};  // percent of a limit
  std::string webhook_url;                        // empty: alerts are only recorded
  std::string webhook_secret;

  // [retention] (Python service: RETENTION_MONTHS)
  int retention_months = 36;

  // [grafana] (Python service: GRAFANA_*); kept for compatibility, meterd serves its own dashboard
  std::string grafana_url = "http://localhost:3000";
  std::string grafana_api_key;

  // (Python service: OFFLINE) true = never contact ClickHouse, even when configured
  bool offline = false;
};

}  // namespace meter::config

#include "config/settings.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <vector>

namespace meter::config {
namespace {

using Message = std::optional<std::string>;

template <class Int>
Message parse_int(std::string_view text, Int& out, Int min, Int max) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return "expected a whole number";
  if (value < static_cast<long long>(min) || value > static_cast<long long>(max)) {
    return "must be between " + std::to_string(min) + " and " + std::to_string(max);
  }
  out = static_cast<Int>(value);
  return std::nullopt;
}

Message parse_decimal(std::string_view text, Decimal& out) {
  auto d = Decimal::parse(text);
  if (!d) return "expected a decimal number such as 0.01";
  if (d->is_negative()) return "must not be negative";
  out = *d;
  return std::nullopt;
}

// Seconds as decimal text ("1.0", "0.25") to milliseconds, exactly.
Message parse_seconds(std::string_view text, std::chrono::milliseconds& out) {
  Decimal d;
  if (auto m = parse_decimal(text, d)) return m;
  Int128 ms = d.units() / (Decimal::kOne / 1000);
  if (ms > std::numeric_limits<int>::max()) return "is too large";
  out = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  return std::nullopt;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  return Decimal::from_units(static_cast<Int128>(ms.count()) * (Decimal::kOne / 1000)).to_string();
}

Message parse_bool(std::string_view text, bool& out) {
  if (text == "true" || text == "1" || text == "yes" || text == "True" || text == "TRUE") {
    out = true;
  } else if (text == "false" || text == "0" || text == "no" || text == "False" || text == "FALSE" ||
             text.empty()) {
    out = false;
  } else {
    return "expected true or false";
  }
  return std::nullopt;
}

Message parse_one_of(std::string_view text, std::string& out,
                     std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (text == a) {
      out = std::string(text);
      return std::nullopt;
    }
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return "must be one of " + list;
}

#define METER_STRING(field)                      \
  [](Config& c, std::string_view v) -> Message { \
    c.field = std::string(v);                    \
    return std::nullopt;                         \
  },                                             \
      [](const Config& c) { return std::string(c.field); }
// A name written into ClickHouse SQL as it is (a database, a cluster): letters, digits, _.
#define METER_SQL_NAME(field, may_be_empty)                                                                 \
  [](Config& c, std::string_view v) -> Message {                                                            \
    if (v.empty() && !(may_be_empty)) return "must not be empty";                                           \
    for (char ch : v) {                                                                                     \
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return "may hold only A-Z a-z 0-9 _"; \
    }                                                                                                       \
    c.field = std::string(v);                                                                               \
    return std::nullopt;                                                                                    \
  },                                                                                                        \
      [](const Config& c) { return std::string(c.field); }
#define METER_PATH(field)                        \
  [](Config& c, std::string_view v) -> Message { \
    if (v.empty()) return "must not be empty";   \
    c.field = std::string(v);                    \
    return std::nullopt;                         \
  },                                             \
      [](const Config& c) { return c.field.string(); }
#define METER_INT(field, type, min, max)                                               \
  [](Config& c, std::string_view v) { return parse_int<type>(v, c.field, min, max); }, \
      [](const Config& c) { return std::to_string(c.field); }, false
#define METER_DECIMAL(field)                                               \
  [](Config& c, std::string_view v) { return parse_decimal(v, c.field); }, \
      [](const Config& c) { return c.field.to_string(); }
#define METER_SECONDS(field)                                               \
  [](Config& c, std::string_view v) { return parse_seconds(v, c.field); }, \
      [](const Config& c) { return seconds_text(c.field); }, false

const std::vector<Setting>& table() {
  static const std::vector<Setting> settings = {
      {"server.listen", "METERD_LISTEN", "address:port to serve HTTP on", false,
       [](Config& c, std::string_view v) -> Message {
         std::size_t colon = v.rfind(':');
         unsigned port = 0;
         if (colon == std::string_view::npos || colon == 0) return "must be host:port, e.g. 127.0.0.1:8000";
         if (parse_int<unsigned>(v.substr(colon + 1), port, 0, 65535))
           return "must be host:port with a port 0..65535";
         c.listen = std::string(v);
         return std::nullopt;
       },
       [](const Config& c) { return c.listen; }},
      {"server.data_dir", "METERD_DATA_DIR", "folder for the embedded store", false, METER_PATH(data_dir)},
      {"server.web_dir", "METERD_WEB_DIR",
       "the web/ folder (API docs, dashboard); empty = found beside the binary", false,
       [](Config& c, std::string_view v) -> Message {
         c.web_dir = std::string(v);
         return std::nullopt;
       },
       [](const Config& c) { return c.web_dir.string(); }},
      {"server.workers", "METERD_WORKERS", "HTTP worker threads (0 = one per core)", false,
       METER_INT(workers, int, 0, 256)},
      {"server.max_body_bytes", "METERD_MAX_BODY_BYTES", "largest request body accepted (413 above)", false,
       METER_INT(max_body_bytes, std::size_t, 1024, 1ull << 30)},
      {"server.max_header_bytes", "METERD_MAX_HEADER_BYTES", "largest request header block (431 above)",
       false, METER_INT(max_header_bytes, std::size_t, 1024, 1 << 20)},
      {"server.max_connections", "METERD_MAX_CONNECTIONS", "open connections; more are answered 503", false,
       METER_INT(max_connections, std::size_t, 1, 1'000'000)},
      {"server.max_connections_per_client", "METERD_MAX_CONNECTIONS_PER_CLIENT",
       "open connections from one address; more are answered 503", false,
       METER_INT(max_connections_per_client, std::size_t, 1, 1'000'000)},
      {"server.max_unauthenticated_connections", "METERD_MAX_UNAUTHENTICATED_CONNECTIONS",
       "open connections that have not sent a request with a key yet; more are answered 503", false,
       METER_INT(max_unauthenticated_connections, std::size_t, 1, 1'000'000)},
      {"server.idle_timeout_seconds", "METERD_IDLE_TIMEOUT_SECONDS",
       "close keep-alive connections idle this long", false, METER_SECONDS(idle_timeout)},
      {"server.read_timeout_seconds", "METERD_READ_TIMEOUT_SECONDS", "time allowed to send one whole request",
       false, METER_SECONDS(read_timeout)},
      {"server.read_threads", "METERD_READ_THREADS", "threads that run store reads off the event loop", false,
       METER_INT(read_threads, int, 1, 256)},
      {"server.read_deadline_seconds", "METERD_READ_DEADLINE_SECONDS",
       "a read not answered this long gets 504 with Retry-After", false, METER_SECONDS(read_deadline)},
      {"server.log_level", "METERD_LOG_LEVEL", "trace, debug, info, warn, error", false,
       [](Config& c, std::string_view v) {
         return parse_one_of(v, c.log_level, {"trace", "debug", "info", "warn", "error"});
       },
       [](const Config& c) { return c.log_level; }},
      {"server.log_format", "METERD_LOG_FORMAT", "text or json", false,
       [](Config& c, std::string_view v) {
         return parse_one_of(v, c.log_format, {"text", "json"});
       },
       [](const Config& c) { return c.log_format; }},

      {"ingest.max_events_per_request", "METERD_MAX_EVENTS_PER_REQUEST", "events in one /v1/events request",
       false, METER_INT(max_events_per_request, std::size_t, 1, 1'000'000)},
      {"ingest.max_metadata_bytes", "METERD_MAX_METADATA_BYTES", "size of one event's metadata JSON", false,
       METER_INT(max_metadata_bytes, std::size_t, 2, 1 << 20)},
      {"ingest.max_metadata_depth", "METERD_MAX_METADATA_DEPTH", "nesting levels inside metadata", false,
       METER_INT(max_metadata_depth, int, 1, 64)},
      {"ingest.dedupe_window_days", "METERD_DEDUPE_WINDOW_DAYS",
       "an id is counted once within this many days", false, METER_INT(dedupe_window_days, int, 1, 3660)},
      {"ingest.late_window_days", "METERD_LATE_WINDOW_DAYS", "oldest event timestamp accepted, in days",
       false, METER_INT(late_window_days, int, 1, 3660)},
      {"ingest.dedupe_index", "METERD_DEDUPE_INDEX",
       "disk (RocksDB under DATA_DIR/dedupe, memory bounded) or memory (faster, about 40 bytes per id)",
       false,
       [](Config& c, std::string_view v) {
         return parse_one_of(v, c.dedupe_index, {"disk", "memory"});
       },
       [](const Config& c) { return c.dedupe_index; }},
      {"ingest.dedupe_cache_mb", "METERD_DEDUPE_CACHE_MB",
       "memory for the disk dedupe index's cached blocks, in MiB", false,
       METER_INT(dedupe_cache_mb, std::size_t, 8, 1 << 20)},

      {"ingest.rate_limit_events_per_second", "METERD_RATE_LIMIT_EVENTS_PER_SECOND",
       "events per second per tenant (429 above); 0 = no limit", false,
       METER_INT(rate_limit_events_per_second, std::uint64_t, 0, 1'000'000'000)},
      {"ingest.rate_limit_burst", "METERD_RATE_LIMIT_BURST",
       "events a tenant may send at once above the rate", false,
       METER_INT(rate_limit_burst, std::uint64_t, 1, 1'000'000'000)},

      {"corrections.window_days", "METERD_CORRECTION_WINDOW_DAYS",
       "how many days after its timestamp an event may be corrected (finalized months get adjustment notes); "
       "0 "
       "= until its month is finalized",
       false, METER_INT(correction_window_days, int, 0, 3660)},

      {"buffer.size", "BUFFER_SIZE", "events per batch shipped to a remote backend", false,
       METER_INT(buffer_size, std::size_t, 1, 10'000'000)},
      {"buffer.catch_up_size", "METERD_CATCH_UP_SIZE",
       "most events per insert while a larger backlog waits (never fewer than buffer.size)", false,
       METER_INT(catch_up_size, std::size_t, 1, 10'000'000)},
      {"buffer.flush_interval_seconds", "FLUSH_INTERVAL_SECONDS", "ship a partial batch after this long",
       false, METER_SECONDS(flush_interval)},
      {"buffer.fallback_file_path", "FALLBACK_FILE_PATH",
       "the Python service's JSONL fallback file, for `meterd replay`", false,
       METER_PATH(fallback_file_path)},

      {"store.url", "METERD_DATABASE_URL",
       "PostgreSQL shared by several nodes (postgresql://user@host/db); empty = embedded store", true,
       METER_STRING(store_url)},
      {"store.timeout_seconds", "METERD_DATABASE_TIMEOUT_SECONDS",
       "connecting to PostgreSQL and each statement, before it counts as unreachable", false,
       METER_SECONDS(store_timeout)},

      {"clickhouse.host", "CLICKHOUSE_HOST", "ClickHouse host; empty = embedded store", false,
       METER_STRING(clickhouse_host)},
      {"clickhouse.port", "CLICKHOUSE_PORT", "ClickHouse HTTP port", false,
       METER_INT(clickhouse_port, int, 1, 65535)},
      {"clickhouse.timeout_seconds", "CLICKHOUSE_TIMEOUT_SECONDS",
       "a shipment in flight longer than this (or a query) counts ClickHouse as unreachable", false,
       METER_SECONDS(clickhouse_timeout)},
      {"clickhouse.user", "CLICKHOUSE_USER", "ClickHouse user", false, METER_STRING(clickhouse_user)},
      {"clickhouse.password", "CLICKHOUSE_PASSWORD", "ClickHouse password", true,
       METER_STRING(clickhouse_password)},
      {"clickhouse.database", "CLICKHOUSE_DATABASE", "ClickHouse database", false,
       METER_SQL_NAME(clickhouse_database, false)},
      {"clickhouse.cluster", "CLICKHOUSE_CLUSTER",
       "ClickHouse cluster (remote_servers) to create replicated, sharded tables on; empty = one server",
       false, METER_SQL_NAME(clickhouse_cluster, true)},

      {"billing.default_plan", "METERD_DEFAULT_PLAN", "the plan of tenants without one of their own", false,
       METER_STRING(default_plan)},
      {"pricing.price_per_query", "PRICE_PER_QUERY", "USD per query event", false,
       METER_DECIMAL(price_per_query)},
      {"pricing.price_per_1k_input_tokens", "PRICE_PER_1K_INPUT_TOKENS", "USD per 1,000 input tokens", false,
       METER_DECIMAL(price_per_1k_input_tokens)},
      {"pricing.price_per_1k_output_tokens", "PRICE_PER_1K_OUTPUT_TOKENS", "USD per 1,000 output tokens",
       false, METER_DECIMAL(price_per_1k_output_tokens)},
      {"pricing.price_per_gb_storage", "PRICE_PER_GB_STORAGE", "USD per GB-month of storage", false,
       METER_DECIMAL(price_per_gb_storage)},

      {"quota.default_queries", "DEFAULT_QUOTA_QUERIES", "queries per tenant per day", false,
       METER_INT(default_quota_queries, std::int64_t, 0, std::numeric_limits<std::int64_t>::max())},
      {"quota.default_tokens", "DEFAULT_QUOTA_TOKENS", "tokens per tenant per day", false,
       METER_INT(default_quota_tokens, std::int64_t, 0, std::numeric_limits<std::int64_t>::max())},

      {"quota.alert_thresholds", "METERD_ALERT_THRESHOLDS",
       "percent of a limit that fire an alert, e.g. 80,100", false,
       [](Config& c, std::string_view v) -> Message {
         std::vector<int> out;
         while (!v.empty()) {
           std::size_t comma = v.find(',');
           int t = 0;
           if (auto m = parse_int<int>(v.substr(0, comma), t, 1, 1000))
             return "a comma-separated list of percents: " + *m;
           out.push_back(t);
           v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
         }
         c.alert_thresholds = std::move(out);
         return std::nullopt;
       },
       [](const Config& c) {
         std::string out;
         for (int t : c.alert_thresholds) out += (out.empty() ? "" : ",") + std::to_string(t);
         return out;
       }},
      {"quota.webhook_url", "METERD_WEBHOOK_URL", "where quota alerts are POSTed; empty = only recorded",
       false, METER_STRING(webhook_url)},
      {"quota.webhook_secret", "METERD_WEBHOOK_SECRET", "HMAC-SHA256 key signing each alert", true,
       METER_STRING(webhook_secret)},

      {"retention.months", "RETENTION_MONTHS", "months of raw events kept", false,
       METER_INT(retention_months, int, 1, 1200)},

      {"grafana.url", "GRAFANA_URL", "kept for compatibility with the Python service", false,
       METER_STRING(grafana_url)},
      {"grafana.api_key", "GRAFANA_API_KEY", "kept for compatibility with the Python service", true,
       METER_STRING(grafana_api_key)},

      {"offline", "OFFLINE", "never contact ClickHouse", false,
       [](Config& c, std::string_view v) { return parse_bool(v, c.offline); },
       [](const Config& c) { return std::string(c.offline ? "true" : "false"); }, false},
  };
  return settings;
}

}  // namespace

std::span<const Setting> all_settings() { return table(); }

const Setting* find_setting(std::string_view key_or_env) {
  for (const Setting& s : table()) {
    if (s.key == key_or_env || s.env == key_or_env) return &s;
  }
  return nullptr;
}

}  // namespace meter::config

// Long, knowingly: the event log's schema, append path, rollups and partitions, and (until the
// tenant records get a store of their own) quota settings and alerts. Billing tables, raw
// aggregates, maintenance and the ship log are in files of their own beside it.
#include "store/sqlite/sqlite_store.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <tuple>

#include "core/deadline.h"
#include "store/sqlite/decimal_functions.h"
#include "store/sqlite/sqlite_call.h"

namespace meter::store::sqlite {
namespace {

constexpr int kSchemaVersion = 5;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meter_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage_partitions (month INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS quota_alerts (
  id           INTEGER PRIMARY KEY,
  tenant_id    TEXT    NOT NULL,
  meter        TEXT    NOT NULL,
  period       TEXT    NOT NULL,  -- day or month
  period_start INTEGER NOT NULL,  -- Unix ms, in the tenant's zone at the time
  threshold    INTEGER NOT NULL,  -- percent of the limit
  used         TEXT    NOT NULL,
  quota_limit  TEXT    NOT NULL,
  fired_at     INTEGER NOT NULL,
  delivery     TEXT    NOT NULL,
  attempts     INTEGER NOT NULL,
  UNIQUE (tenant_id, meter, period, period_start, threshold)
);
-- Shipping to a remote backend (v3): per month, the last rowid shipped, and the one
-- shipment in flight (recorded before it is sent, cleared once the backend has it).
CREATE TABLE IF NOT EXISTS ship_state (
  month              INTEGER PRIMARY KEY,
  shipped_rowid      INTEGER NOT NULL,
  pending_batch      TEXT,
  pending_last_rowid INTEGER
);
-- Billing (v4): each tenant's plan (none = the default plan) and finalized invoices, kept
-- byte for byte as first served.
CREATE TABLE IF NOT EXISTS tenant_plans (
  tenant_id  TEXT PRIMARY KEY,
  plan       TEXT    NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
  tenant_id    TEXT    NOT NULL,
  month        INTEGER NOT NULL,  -- YYYYMM
  json         TEXT    NOT NULL,
  csv          TEXT    NOT NULL,
  finalized_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, month)
);
CREATE TABLE IF NOT EXISTS tenant_quotas (
  tenant_id       TEXT PRIMARY KEY,
  queries_per_day TEXT,
  tokens_per_day  TEXT,
  storage_gb      TEXT,
  updated_at      INTEGER NOT NULL
);
)sql";

// The rollup tables, finest first. They have one shape; only the bucket differs. Quarter hours
// exist for invoices: every zone's midnight falls on one, so any zone's month is exact.
constexpr const char* kRollupTables[] = {"usage_quarter_hour", "usage_hourly", "usage_daily"};

// usage_quarter_hour, usage_hourly and usage_daily have one shape; only the bucket differs.
std::string rollup_table_sql(const char* table) {
  return fmt::format(R"sql(CREATE TABLE IF NOT EXISTS {} (
  tenant_id    TEXT    NOT NULL,
  bucket_start INTEGER NOT NULL,
  event_type   TEXT    NOT NULL,
  quantity     TEXT    NOT NULL,
  events       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, bucket_start, event_type)
) WITHOUT ROWID)sql",
                     table);
}

// The row a scan starts after: 0 (every row) for a partition the cursor does not name.
std::int64_t last_row(const RowCursor* cursor, int month) {
  if (cursor == nullptr) return 0;
  auto it = cursor->find(month);
  return it == cursor->end() ? 0 : it->second;
}

std::string partition_table(int month) { return fmt::format("usage_events_{}", month); }

std::string upsert_sql(const char* table) {
  return fmt::format(
      "INSERT INTO {} (tenant_id, bucket_start, event_type, quantity, events) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, bucket_start, event_type) DO UPDATE SET "
      "quantity = meter_dec_add(quantity, excluded.quantity), events = events + excluded.events",
      table);
}

struct Aggregate {
  Decimal quantity;
  std::int64_t events = 0;
};

using RollupKey = std::tuple<std::string_view, std::string_view, std::int64_t>;
using RollupMap = absl::flat_hash_map<RollupKey, Aggregate>;

Status add_to(RollupMap& map, RollupKey key, Decimal quantity, std::int64_t events) {
  auto& agg = map[key];
  auto sum = agg.quantity.checked_add(quantity);
  if (!sum) {
    return fail(Error::invalid("quantity",
                               "the usage sums this event adds to would overflow (the largest is about "
                               "1.7e26); send smaller quantities"));
  }
  agg.quantity = *sum;
  agg.events += events;
  return {};
}

// Quarter-hour sums per event, then hourly sums from those and daily from the hourly ones.
Status aggregate(std::span<const Event> events, RollupMap& quarters, RollupMap& hourly, RollupMap& daily) {
  constexpr std::int64_t kQuarterMs = 900'000;
  constexpr std::int64_t kHourMs = 3'600'000;
  constexpr std::int64_t kDayMs = 24 * kHourMs;
  auto floor_ms = [](std::int64_t ms, std::int64_t unit) { return ms - ((ms % unit) + unit) % unit; };
  for (const Event& e : events) {
    std::int64_t quarter = floor_ms(to_unix_ms(e.timestamp), kQuarterMs);
    if (auto s = add_to(quarters, RollupKey{e.tenant_id, e.event_type, quarter}, e.quantity, 1); !s) return s;
  }
  for (auto [from, to, unit] :
       {std::tuple{&quarters, &hourly, kHourMs}, std::tuple{&hourly, &daily, kDayMs}}) {
    for (const auto& [key, agg] : *from) {
      const auto& [tenant, type, bucket] = key;
      if (auto s = add_to(*to, RollupKey{tenant, type, floor_ms(bucket, unit)}, agg.quantity, agg.events); !s)
        return s;
    }
  }
  return {};
}

void write_map(SQLite::Statement& stmt, const RollupMap& map) {
  for (const auto& [key, agg] : map) {
    const auto& [tenant, type, bucket] = key;
    std::string quantity = agg.quantity.to_string();
    stmt.reset();
    stmt.bind(1, std::string(tenant));  // a few rows per batch: copies are cheap
    stmt.bind(2, static_cast<std::int64_t>(bucket));
    stmt.bind(3, std::string(type));
    stmt.bindNoCopy(4, quantity);
    stmt.bind(5, static_cast<std::int64_t>(agg.events));
    stmt.exec();
  }
}

}  // namespace

SqliteStore::SqliteStore(SqliteOptions options) : options_(std::move(options)) {
  if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path());
  writer_ = open_connection();
  migrate();
  upsert_quarter_ = std::make_unique<SQLite::Statement>(*writer_, upsert_sql("usage_quarter_hour"));
  upsert_hourly_ = std::make_unique<SQLite::Statement>(*writer_, upsert_sql("usage_hourly"));
  upsert_daily_ = std::make_unique<SQLite::Statement>(*writer_, upsert_sql("usage_daily"));
  writer_->exec("PRAGMA wal_autocheckpoint = 0");         // the checkpointer thread does it
  writer_->exec("PRAGMA journal_size_limit = 67108864");  // a restarted WAL shrinks to 64 MiB
  checkpointer_ = std::thread([this] { run_checkpointer(); });
}

SqliteStore::~SqliteStore() {
  {
    MutexLock lock(checkpoint_mutex_);
    stopping_ = true;
  }
  checkpoint_wake_.notify_one();
  checkpointer_.join();
}

std::int64_t SqliteStore::now_ms() const {
  return to_unix_ms(options_.clock != nullptr ? options_.clock->now() : SystemClock().now());
}

void SqliteStore::run_checkpointer() {
  std::unique_ptr<SQLite::Database> db;
  try {
    db = open_connection();
  } catch (const std::exception& e) {
    spdlog::error("sqlite checkpointer cannot open {}: {}; the WAL will grow", options_.path.string(),
                  e.what());
    return;
  }
  MutexLock lock(checkpoint_mutex_);
  for (;;) {
    auto until = std::chrono::steady_clock::now() + options_.checkpoint_interval;
    while (!stopping_ && checkpoint_wake_.wait_until(checkpoint_mutex_, until)) {
    }
    if (stopping_) return;
    lock.unlock();
    // PASSIVE never blocks the writer; pages still in use by readers wait for the next round.
    int wal_frames = 0;
    int rc =
        sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, nullptr);
    if (rc == SQLITE_OK && wal_frames >= options_.wal_restart_frames) {
      // The writer never pauses long enough for the WAL to be fully copied, so take a turn:
      // the remainder is small after the passive pass, and the WAL then starts over.
      MutexLock writes(write_mutex_);
      rc = sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      spdlog::warn("sqlite checkpoint failed: {}", sqlite3_errstr(rc));
    lock.lock();
  }
}

std::unique_ptr<SQLite::Database> SqliteStore::open_connection() const {
  auto db =
      std::make_unique<SQLite::Database>(options_.path.string(),
                                         // Each connection is used by one thread at a time
                                         // (writer, a leased reader, the checkpointer).
                                         SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA synchronous = FULL");
  db->exec(fmt::format("PRAGMA cache_size = -{}", options_.cache_mib * 1024));
  db->exec("PRAGMA busy_timeout = 5000");
  register_decimal_functions(db->getHandle());
  // A query run under a deadline (core/deadline.h: a read served for an HTTP request) stops with
  // SQLITE_INTERRUPT once the deadline passes or is cancelled at shutdown.
  sqlite3_progress_handler(
      db->getHandle(), 4096, [](void*) { return deadline_passed() ? 1 : 0; }, nullptr);
  return db;
}

void SqliteStore::migrate() {
  SQLite::Transaction tx(*writer_);
  writer_->exec(kSchema);
  for (const char* table : kRollupTables) writer_->exec(rollup_table_sql(table));
  SQLite::Statement version(*writer_, "SELECT max(version) FROM meter_schema");
  version.executeStep();
  if (version.getColumn(0).isNull()) {
    writer_->exec("INSERT INTO meter_schema VALUES (1)");  // the steps below bring it up to date
  } else if (version.getColumn(0).getInt() > kSchemaVersion) {
    throw SQLite::Exception(
        fmt::format("{} was written by a newer meterd (schema {}, this binary knows {}); upgrade meterd",
                    options_.path.string(), version.getColumn(0).getInt(), kSchemaVersion));
  }
  int from = version.getColumn(0).isNull() ? 1 : version.getColumn(0).getInt();
  if (from < 2) {
    // v2: monthly limits, a time zone and an enforcement mode per tenant.
    for (const char* column :
         {"time_zone TEXT NOT NULL DEFAULT 'UTC'", "enforcement TEXT NOT NULL DEFAULT 'soft'",
          "queries_per_month TEXT", "tokens_per_month TEXT", "storage_gb_per_month TEXT"}) {
      writer_->exec(fmt::format("ALTER TABLE tenant_quotas ADD COLUMN {}", column));
    }
    writer_->exec("UPDATE meter_schema SET version = 2");
  }
  if (from < 5) {
    // v3: ship_state, v4: billing tables (created above); v5: quarter-hour rollups, filled
    // here from the raw events already stored.
    std::vector<int> existing;
    SQLite::Statement months(*writer_, "SELECT month FROM usage_partitions");
    while (months.executeStep()) existing.push_back(months.getColumn(0).getInt());
    for (int month : existing) {
      writer_->exec(
          fmt::format("INSERT INTO usage_quarter_hour SELECT tenant_id, ts - ((ts % 900000) + 900000) % "
                      "900000 AS b, event_type, "
                      "meter_dec_sum(quantity), count(*) FROM {} GROUP BY tenant_id, b, event_type",
                      partition_table(month)));
    }
    writer_->exec("UPDATE meter_schema SET version = 5");
  }
  tx.commit();
  SQLite::Statement months(*writer_, "SELECT month FROM usage_partitions");
  while (months.executeStep()) months_.insert(months.getColumn(0).getInt());
}

SQLite::Statement& SqliteStore::insert_statement(int month) {
  if (!months_.contains(month)) {
    std::string table = partition_table(month);
    writer_->exec(
        fmt::format("CREATE TABLE IF NOT EXISTS {} (id TEXT NOT NULL, tenant_id TEXT NOT NULL, "
                    "event_type TEXT NOT NULL, quantity TEXT NOT NULL, ts INTEGER NOT NULL, "
                    "received_at INTEGER NOT NULL, metadata TEXT NOT NULL)",
                    table));
    writer_->exec(fmt::format("INSERT OR IGNORE INTO usage_partitions VALUES ({})", month));
    months_.insert(month);
    rebuild_events_view();
  }
  auto& stmt = inserts_[month];
  if (!stmt) {
    stmt = std::make_unique<SQLite::Statement>(
        *writer_, fmt::format("INSERT INTO {} VALUES (?, ?, ?, ?, ?, ?, ?)", partition_table(month)));
  }
  return *stmt;
}

// Keeps the all-months view in step with the partitions, for people using the sqlite3 CLI.
void SqliteStore::rebuild_events_view() {
  std::string view = "DROP VIEW IF EXISTS usage_events;";
  if (!months_.empty()) view += " CREATE VIEW usage_events AS ";
  const char* sep = "";
  for (int m : months_) {
    view += fmt::format("{}SELECT * FROM {}", sep, partition_table(m));
    sep = " UNION ALL ";
  }
  writer_->exec(view);
}

Status SqliteStore::append(std::span<const Event> events) {
  if (events.empty()) return {};
  RollupMap quarters, hourly, daily;
  if (auto s = aggregate(events, quarters, hourly, daily); !s) return s;
  MutexLock writes(write_mutex_);
  try {
    SQLite::Transaction tx(*writer_, SQLite::TransactionBehavior::IMMEDIATE);
    std::string quantity;
    SQLite::Statement* insert = nullptr;
    Timestamp month_start{}, month_end{};  // the partition `insert` writes to
    for (const Event& e : events) {
      if (insert == nullptr || e.timestamp < month_start || e.timestamp >= month_end) {
        insert = &insert_statement(month_key(e.timestamp));
        month_start = floor_to(Window::kMonth, e.timestamp);
        month_end = next_window(Window::kMonth, e.timestamp);
      }
      quantity = e.quantity.to_string();
      insert->reset();
      insert->bindNoCopy(1, e.id);
      insert->bindNoCopy(2, e.tenant_id);
      insert->bindNoCopy(3, e.event_type);
      insert->bindNoCopy(4, quantity);
      insert->bind(5, static_cast<std::int64_t>(to_unix_ms(e.timestamp)));
      insert->bind(6, static_cast<std::int64_t>(to_unix_ms(e.received_at)));
      insert->bindNoCopy(7, e.metadata);
      insert->exec();
    }
    write_map(*upsert_quarter_, quarters);
    write_map(*upsert_hourly_, hourly);
    write_map(*upsert_daily_, daily);
    tx.commit();
    return {};
  } catch (const std::exception& ex) {
    // The transaction rolled back: forget partitions it may have created, and clear the failed
    // statements' error, which SQLite would otherwise report again at their next reset.
    for (auto* stmt : {upsert_quarter_.get(), upsert_hourly_.get(), upsert_daily_.get()}) stmt->tryReset();
    months_.clear();
    inserts_.clear();
    try {
      SQLite::Statement months(*writer_, "SELECT month FROM usage_partitions");
      while (months.executeStep()) months_.insert(months.getColumn(0).getInt());
    } catch (const std::exception& again) {
      // Harmless: each partition is then created again "IF NOT EXISTS" by the next append.
      spdlog::warn("sqlite: cannot re-read the partitions after a failed append: {}", again.what());
    }
    if (std::string_view(ex.what()).find("meter_dec_add: overflow") != std::string_view::npos) {
      // A stored usage sum plus this group's would leave the decimal range: the data's fault.
      return fail(Error::invalid("quantity",
                                 "the stored usage sums these events add to would overflow (the largest "
                                 "is about 1.7e26); send smaller quantities"));
    }
    return fail(Error::unavailable(std::string("sqlite append failed: ") + ex.what()));
  }
}

SqliteStore::ConnectionLease SqliteStore::borrow_connection() {
  {
    MutexLock lock(connections_mutex_);
    if (!idle_connections_.empty()) {
      auto db = std::move(idle_connections_.back());
      idle_connections_.pop_back();
      return ConnectionLease(*this, std::move(db));
    }
  }
  return ConnectionLease(*this, open_connection());
}

Result<std::vector<UsageRow>> SqliteStore::usage(const UsageQuery& query) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<UsageRow>> {
    auto reader = borrow_connection();
    const char* table = query.window == Window::kQuarterHour ? "usage_quarter_hour"
                        : query.window == Window::kHour      ? "usage_hourly"
                                                             : "usage_daily";
    SQLite::Statement stmt(*reader,
                           fmt::format("SELECT bucket_start, event_type, quantity, events FROM {} "
                                       "WHERE tenant_id = ?1 AND bucket_start >= ?2 AND bucket_start < ?3 "
                                       "AND (?4 IS NULL OR event_type = ?4) "
                                       "ORDER BY bucket_start, event_type",
                                       table));
    stmt.bind(1, query.tenant_id);
    stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(query.from)));
    stmt.bind(3, static_cast<std::int64_t>(to_unix_ms(query.to)));
    if (query.event_type)
      stmt.bind(4, *query.event_type);
    else
      stmt.bind(4);

    UsageRows rows(query.window);
    while (stmt.executeStep()) {
      auto quantity = stored_decimal(stmt.getColumn(2).getString(), table);
      if (!quantity) return fail(quantity.error());
      auto added = rows.add(from_unix_ms(stmt.getColumn(0).getInt64()), stmt.getColumn(1).getString(),
                            *quantity, stmt.getColumn(3).getInt64());
      if (!added) return fail(added.error());
    }
    return std::move(rows).finish();
  });
}

namespace {

void bind_optional(SQLite::Statement& stmt, int index, const std::optional<Decimal>& value) {
  if (value)
    stmt.bind(index, value->to_string());
  else
    stmt.bind(index);
}

Result<std::optional<Decimal>> column_decimal(const SQLite::Column& column) {
  if (column.isNull()) return std::optional<Decimal>();
  auto d = stored_decimal(column.getString(), "tenant_quotas");
  if (!d) return fail(d.error());
  return std::optional<Decimal>(*d);
}

}  // namespace

Status SqliteStore::put_quota(std::string_view tenant_id, const quota::TenantQuota& quota) {
  using quota::Meter;
  return sqlite_call("sqlite write", [&]() -> Status {
    auto db = borrow_connection();  // any connection may write; WAL serialises it with the writer
    SQLite::Statement stmt(
        *db,
        "INSERT OR REPLACE INTO tenant_quotas (tenant_id, queries_per_day, tokens_per_day, storage_gb, "
        "updated_at, time_zone, enforcement, queries_per_month, tokens_per_month, storage_gb_per_month) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    stmt.bind(1, std::string(tenant_id));
    bind_optional(stmt, 2, quota[Meter::kQueries].per_day);
    bind_optional(stmt, 3, quota[Meter::kTokens].per_day);
    bind_optional(stmt, 4, quota[Meter::kStorageGb].per_day);
    stmt.bind(5, static_cast<std::int64_t>(now_ms()));
    stmt.bind(6, quota.time_zone);
    stmt.bind(7, std::string(quota::enforcement_name(quota.enforcement)));
    bind_optional(stmt, 8, quota[Meter::kQueries].per_month);
    bind_optional(stmt, 9, quota[Meter::kTokens].per_month);
    bind_optional(stmt, 10, quota[Meter::kStorageGb].per_month);
    stmt.exec();
    return {};
  });
}

Result<std::vector<std::pair<std::string, quota::TenantQuota>>> SqliteStore::list_quotas() {
  using quota::Meter;
  return sqlite_call(
      "sqlite query", [&]() -> Result<std::vector<std::pair<std::string, quota::TenantQuota>>> {
        auto db = borrow_connection();
        SQLite::Statement stmt(
            *db,
            "SELECT tenant_id, time_zone, enforcement, queries_per_day, queries_per_month, "
            "tokens_per_day, tokens_per_month, storage_gb, storage_gb_per_month FROM tenant_quotas");
        std::vector<std::pair<std::string, quota::TenantQuota>> out;
        while (stmt.executeStep()) {
          quota::TenantQuota q;
          q.time_zone = stmt.getColumn(1).getString();
          q.enforcement =
              quota::parse_enforcement(stmt.getColumn(2).getString()).value_or(quota::Enforcement::kSoft);
          int column = 3;
          for (Meter meter : quota::kMeters) {
            for (auto* limit : {&q[meter].per_day, &q[meter].per_month}) {
              auto value = column_decimal(stmt.getColumn(column++));
              if (!value) return fail(value.error());
              *limit = *value;
            }
          }
          out.emplace_back(stmt.getColumn(0).getString(), std::move(q));
        }
        return out;
      });
}

Result<std::optional<std::int64_t>> SqliteStore::record_alert(const quota::Alert& a) {
  return sqlite_call("sqlite write", [&]() -> Result<std::optional<std::int64_t>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(
        *db,
        "INSERT OR IGNORE INTO quota_alerts (tenant_id, meter, period, period_start, threshold, "
        "used, quota_limit, fired_at, delivery, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)");
    stmt.bind(1, a.tenant_id);
    stmt.bind(2, std::string(quota::meter_name(a.meter)));
    stmt.bind(3, a.period == quota::Period::kDay ? "day" : "month");
    stmt.bind(4, static_cast<std::int64_t>(to_unix_ms(a.period_start)));
    stmt.bind(5, a.threshold_percent);
    stmt.bind(6, a.used.to_string());
    stmt.bind(7, a.limit.to_string());
    stmt.bind(8, static_cast<std::int64_t>(to_unix_ms(a.fired_at)));
    if (stmt.exec() == 0) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>((*db).getLastInsertRowid());
  });
}

Status SqliteStore::update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) {
  return sqlite_call("sqlite write", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db, "UPDATE quota_alerts SET delivery = ?, attempts = ? WHERE id = ?");
    stmt.bind(1, std::string(delivery));
    stmt.bind(2, attempts);
    stmt.bind(3, id);
    stmt.exec();
    return {};
  });
}

Result<std::vector<AlertRecord>> SqliteStore::list_alerts(std::string_view tenant_id, std::size_t limit,
                                                          bool pending_only) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<AlertRecord>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db,
                           "SELECT id, tenant_id, meter, period, period_start, threshold, used, quota_limit, "
                           "fired_at, delivery, attempts FROM quota_alerts WHERE (?1 = '' OR tenant_id = ?1) "
                           "AND (?3 = 0 OR delivery = 'pending') ORDER BY id DESC LIMIT ?2");
    stmt.bind(1, std::string(tenant_id));
    stmt.bind(2, static_cast<std::int64_t>(limit));
    stmt.bind(3, pending_only ? 1 : 0);
    std::vector<AlertRecord> out;
    while (stmt.executeStep()) {
      AlertRecord r;
      r.id = stmt.getColumn(0).getInt64();
      r.alert.tenant_id = stmt.getColumn(1).getString();
      std::string meter = stmt.getColumn(2).getString();
      for (quota::Meter m : quota::kMeters) {
        if (quota::meter_name(m) == meter) r.alert.meter = m;
      }
      r.alert.period = stmt.getColumn(3).getString() == "month" ? quota::Period::kMonth : quota::Period::kDay;
      r.alert.period_start = from_unix_ms(stmt.getColumn(4).getInt64());
      r.alert.threshold_percent = stmt.getColumn(5).getInt();
      auto used = stored_decimal(stmt.getColumn(6).getString(), "quota_alerts.used");
      auto quota_limit = stored_decimal(stmt.getColumn(7).getString(), "quota_alerts.quota_limit");
      if (!used) return fail(used.error());
      if (!quota_limit) return fail(quota_limit.error());
      r.alert.used = *used;
      r.alert.limit = *quota_limit;
      r.alert.fired_at = from_unix_ms(stmt.getColumn(8).getInt64());
      r.delivery = stmt.getColumn(9).getString();
      r.attempts = stmt.getColumn(10).getInt();
      out.push_back(std::move(r));
    }
    return out;
  });
}

Status SqliteStore::scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) {
  return sqlite_call("sqlite scan", [&]() -> Status {
    auto reader = borrow_connection();
    auto text = [](const SQLite::Column& c) { return std::string_view(c.getText(), c.getBytes()); };
    // Quarter-hour sums for summable types; the others are collected and read event by event.
    std::vector<std::string> one_by_one;
    SQLite::Statement sums(*reader,
                           "SELECT tenant_id, event_type, quantity, bucket_start FROM usage_quarter_hour "
                           "WHERE bucket_start >= ?");
    sums.bind(1, static_cast<std::int64_t>(to_unix_ms(since)));
    while (sums.executeStep()) {
      std::string_view type = text(sums.getColumn(1));
      if (!summable(type)) {
        if (std::find(one_by_one.begin(), one_by_one.end(), type) == one_by_one.end())
          one_by_one.emplace_back(type);
        continue;
      }
      auto quantity = stored_decimal(sums.getColumn(2).getString(), "usage_quarter_hour");
      if (!quantity) return fail(quantity.error());
      visit(text(sums.getColumn(0)), type, *quantity, from_unix_ms(sums.getColumn(3).getInt64()));
    }
    if (one_by_one.empty()) return {};
    std::string in;
    for (std::size_t i = 0; i < one_by_one.size(); ++i) in += i == 0 ? "?" : ", ?";
    int first_month = month_key(since);
    for (int month : partitions()) {
      if (month < first_month) continue;
      SQLite::Statement stmt(*reader, fmt::format("SELECT tenant_id, event_type, quantity, ts FROM {} "
                                                  "WHERE ts >= ? AND event_type IN ({})",
                                                  partition_table(month), in));
      stmt.bind(1, static_cast<std::int64_t>(to_unix_ms(since)));
      for (std::size_t i = 0; i < one_by_one.size(); ++i)
        stmt.bindNoCopy(static_cast<int>(i + 2), one_by_one[i]);
      while (stmt.executeStep()) {
        auto quantity = stored_decimal(stmt.getColumn(2).getString(), partition_table(month));
        if (!quantity) return fail(quantity.error());
        visit(text(stmt.getColumn(0)), text(stmt.getColumn(1)), *quantity,
              from_unix_ms(stmt.getColumn(3).getInt64()));
      }
    }
    return {};
  });
}

std::vector<int> SqliteStore::partitions() {
  std::vector<int> out;
  auto reader = borrow_connection();
  SQLite::Statement stmt(*reader, "SELECT month FROM usage_partitions ORDER BY month");
  while (stmt.executeStep()) out.push_back(stmt.getColumn(0).getInt());
  return out;
}

Status SqliteStore::scan_recent_ids(Timestamp received_since, Timestamp timestamp_since,
                                    const RowCursor* after, const IdVisitor& visit) {
  return sqlite_call("sqlite scan", [&]() -> Status {
    int first_month = month_key(timestamp_since);
    auto reader = borrow_connection();
    for (int month : partitions()) {
      if (month < first_month) continue;
      SQLite::Statement stmt(*reader, fmt::format("SELECT tenant_id, id, received_at FROM {} "
                                                  "WHERE received_at >= ? AND rowid > ?",
                                                  partition_table(month)));
      stmt.bind(1, static_cast<std::int64_t>(to_unix_ms(received_since)));
      stmt.bind(2, last_row(after, month));
      while (stmt.executeStep()) {
        const auto& tenant = stmt.getColumn(0);
        const auto& id = stmt.getColumn(1);
        visit(std::string_view(tenant.getText(), tenant.getBytes()),
              std::string_view(id.getText(), id.getBytes()), from_unix_ms(stmt.getColumn(2).getInt64()));
      }
    }
    return {};
  });
}

std::int64_t SqliteStore::last_rowid(SQLite::Database& db, int month) {
  SQLite::Statement stmt(db, fmt::format("SELECT coalesce(max(rowid), 0) FROM {}", partition_table(month)));
  stmt.executeStep();
  return stmt.getColumn(0).getInt64();
}

Result<RowCursor> SqliteStore::row_cursor() {
  return sqlite_call("sqlite query", [&]() -> Result<RowCursor> {
    RowCursor cursor;
    auto reader = borrow_connection();
    for (int month : partitions()) cursor[month] = last_rowid(*reader, month);
    return cursor;
  });
}

Result<std::int64_t> SqliteStore::rows_after(const RowCursor& cursor) {
  return sqlite_call("sqlite query", [&]() -> Result<std::int64_t> {
    std::int64_t rows = 0;
    auto reader = borrow_connection();
    for (int month : partitions()) {
      SQLite::Statement stmt(*reader,
                             fmt::format("SELECT count(*) FROM {} WHERE rowid > ?", partition_table(month)));
      stmt.bind(1, last_row(&cursor, month));
      if (stmt.executeStep()) rows += stmt.getColumn(0).getInt64();
    }
    return rows;
  });
}

}  // namespace meter::store::sqlite

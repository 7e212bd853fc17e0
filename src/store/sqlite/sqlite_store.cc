// Long, knowingly: the schema and its migrations, the append path, rollups and partitions, and
// the scans that rebuild live state at start. Tenant records, raw aggregates, maintenance and the
// ship log are in files of their own beside it.
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

constexpr int kSchemaVersion = 11;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meter_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage_partitions (month INTEGER PRIMARY KEY);
-- Retractions (v7, docs/corrections.md), also stored as raw rows: what reads look up to skip
-- the events they cancel, and the audit trail. One per cancelled event.
CREATE TABLE IF NOT EXISTS retractions (
  tenant_id   TEXT    NOT NULL,
  month       INTEGER NOT NULL,  -- the partition of both rows
  cancels     TEXT    NOT NULL,  -- the cancelled event's id
  event_type  TEXT    NOT NULL,
  quantity    TEXT    NOT NULL,  -- negated
  ts          INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  metadata    TEXT    NOT NULL,  -- who, when, why (the correction)
  PRIMARY KEY (tenant_id, month, cancels)
) WITHOUT ROWID;
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
-- Finalized invoices (v4), kept byte for byte as first served.
CREATE TABLE IF NOT EXISTS invoices (
  tenant_id    TEXT    NOT NULL,
  month        INTEGER NOT NULL,  -- YYYYMM
  json         TEXT    NOT NULL,
  csv          TEXT    NOT NULL,
  finalized_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, month)
);
-- Adjustment notes (v8, docs/corrections.md): credit and debit notes for finalized months.
CREATE TABLE IF NOT EXISTS adjustments (
  tenant_id TEXT    NOT NULL,
  month     INTEGER NOT NULL,  -- YYYYMM of the invoice adjusted
  sequence  INTEGER NOT NULL,
  number    TEXT    NOT NULL,
  json      TEXT    NOT NULL,
  csv       TEXT    NOT NULL,
  issued_at INTEGER NOT NULL,
  total_change TEXT NOT NULL,
  carried_to   INTEGER NOT NULL,  -- YYYYMM of the invoice carrying it as a line; 0 = none
  PRIMARY KEY (tenant_id, month, sequence)
);
)sql";

// Each tenant's settings (v6), one row per tenant: its plan (NULL = the default plan) and, when
// quota_set, its quota settings: billing time zone, enforcement and limits (decimal text, NULL =
// unlimited). Replaces v1's tenant_quotas and v4's tenant_plans.
constexpr const char* kTenantSettings = R"sql(
CREATE TABLE IF NOT EXISTS tenant_settings (
  tenant_id            TEXT PRIMARY KEY,
  plan                 TEXT,
  quota_set            INTEGER NOT NULL,
  time_zone            TEXT    NOT NULL,
  enforcement          TEXT    NOT NULL,
  queries_per_day      TEXT,
  queries_per_month    TEXT,
  tokens_per_day       TEXT,
  tokens_per_month     TEXT,
  storage_gb           TEXT,
  storage_gb_per_month TEXT,
  updated_at           INTEGER NOT NULL
);
)sql";

// The rollup tables, finest first. Quarter hours exist for invoices (every zone's midnight falls
// on one, so any zone's month is exact) and answer hourly usage too, four rows an hour: a table
// of hours would cost every group a third more rollup upserts (docs/storage.md). Days stay, so
// a month or a year is read from a few hundred rows.
constexpr const char* kRollupTables[] = {"usage_quarter_hour", "usage_daily"};

// usage_quarter_hour and usage_daily have one shape; only the bucket differs.
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

constexpr std::int64_t kQuarterMs = 900'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::int64_t floor_ms(std::int64_t ms, std::int64_t unit) { return ms - ((ms % unit) + unit) % unit; }

// Quarter-hour sums per event, then daily sums from those.
Status aggregate(std::span<const Event> events, RollupMap& quarters, RollupMap& daily) {
  for (const Event& e : events) {
    std::int64_t quarter = floor_ms(to_unix_ms(e.timestamp), kQuarterMs);
    if (auto s = add_to(quarters, RollupKey{e.tenant_id, e.event_type, quarter}, e.quantity, e.sign()); !s)
      return s;
  }
  for (const auto& [key, agg] : quarters) {
    const auto& [tenant, type, bucket] = key;
    if (auto s = add_to(daily, RollupKey{tenant, type, floor_ms(bucket, kDayMs)}, agg.quantity, agg.events);
        !s)
      return s;
  }
  return {};
}

// A write transaction run with prepared statements; rolled back unless committed.
class WriteTransaction {
 public:
  WriteTransaction(SQLite::Database& db, SQLite::Statement& begin, SQLite::Statement& commit,
                   SQLite::Statement& rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    run(begin);
  }
  ~WriteTransaction() {
    if (done_ || sqlite3_get_autocommit(db_.getHandle()) != 0) return;  // nothing left open
    try {
      run(rollback_);
    } catch (const std::exception& e) {
      spdlog::warn("sqlite: rolling back a failed append: {}", e.what());
    }
  }
  void commit() {
    run(commit_);
    done_ = true;
  }

 private:
  static void run(SQLite::Statement& stmt) {
    stmt.tryReset();
    stmt.exec();
    stmt.tryReset();
  }
  SQLite::Database& db_;
  SQLite::Statement& commit_;
  SQLite::Statement& rollback_;
  bool done_ = false;
};

}  // namespace

// A group's rows of one rollup table, upserted up to kRows at a time: one statement (one
// program run) for many rows instead of one each. With 50 tenants a /track group holds rows of a
// dozen tenants in each table. Statements are prepared per row count on first use.
class RollupUpsert {
 public:
  RollupUpsert(SQLite::Database& db, std::string table) : db_(db), table_(std::move(table)) {}

  void write(const RollupMap& map) {
    SQLite::Statement* stmt = nullptr;
    int column = 0;
    std::size_t left = map.size();
    for (const auto& [key, agg] : map) {
      if (column == 0) {
        stmt = &statement(std::min(left, kRows));
        stmt->reset();
      }
      const auto& [tenant, type, bucket] = key;
      stmt->bind(++column, std::string(tenant));  // a few rows per batch: copies are cheap
      stmt->bind(++column, static_cast<std::int64_t>(bucket));
      stmt->bind(++column, std::string(type));
      stmt->bind(++column, agg.quantity.to_string());
      stmt->bind(++column, static_cast<std::int64_t>(agg.events));
      --left;
      if (column == stmt->getBindParameterCount()) {
        stmt->exec();
        column = 0;
      }
    }
  }
  // After a failed transaction: a statement's error would otherwise come back at its next reset.
  void reset() {
    for (auto& stmt : by_rows_) {
      if (stmt) stmt->tryReset();
    }
  }

 private:
  static constexpr std::size_t kRows = 16;

  SQLite::Statement& statement(std::size_t rows) {
    auto& stmt = by_rows_[rows];
    if (!stmt) {
      std::string values;
      for (std::size_t i = 0; i < rows; ++i) values += i == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)";
      stmt = std::make_unique<SQLite::Statement>(
          db_, fmt::format(
                   "INSERT INTO {} (tenant_id, bucket_start, event_type, quantity, events) VALUES {} "
                   "ON CONFLICT (tenant_id, bucket_start, event_type) DO UPDATE SET "
                   "quantity = meter_dec_add(quantity, excluded.quantity), events = events + excluded.events",
                   table_, values));
    }
    return *stmt;
  }

  SQLite::Database& db_;
  std::string table_;
  std::array<std::unique_ptr<SQLite::Statement>, kRows + 1> by_rows_;
};

SqliteStore::SqliteStore(SqliteOptions options) : options_(std::move(options)) {
  if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path());
  writer_ = open_connection();
  migrate();
  upsert_quarter_ = std::make_unique<RollupUpsert>(*writer_, "usage_quarter_hour");
  upsert_daily_ = std::make_unique<RollupUpsert>(*writer_, "usage_daily");
  begin_ = std::make_unique<SQLite::Statement>(*writer_, "BEGIN IMMEDIATE");
  commit_ = std::make_unique<SQLite::Statement>(*writer_, "COMMIT");
  rollback_ = std::make_unique<SQLite::Statement>(*writer_, "ROLLBACK");
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
  std::optional<int> stored;
  {
    // Read and let go: a statement left open would keep the tables it read from being dropped.
    SQLite::Statement version(*writer_, "SELECT max(version) FROM meter_schema");
    version.executeStep();
    if (!version.getColumn(0).isNull()) stored = version.getColumn(0).getInt();
  }
  if (!stored) {
    // A new file: the tables above are the current ones.
    writer_->exec(fmt::format("INSERT INTO meter_schema VALUES ({})", kSchemaVersion));
  } else if (*stored > kSchemaVersion) {
    throw SQLite::Exception(
        fmt::format("{} was written by a newer meterd (schema {}, this binary knows {}); upgrade meterd",
                    options_.path.string(), *stored, kSchemaVersion));
  }
  int from = stored.value_or(kSchemaVersion);
  writer_->exec(kTenantSettings);
  if (from == 9) {
    // v10: lots from rules, top-ups awaiting payment, rollovers (with the rule tables below).
    for (const char* column :
         {"rule_id TEXT NOT NULL DEFAULT ''", "awaits_payment INTEGER NOT NULL DEFAULT 0",
          "rolled TEXT NOT NULL DEFAULT '0'"}) {
      writer_->exec(fmt::format("ALTER TABLE credit_grants ADD COLUMN {}", column));
    }
  }
  writer_->exec(credit_schema());
  writer_->exec(credit_rules_schema());
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
  if (from < 6) {
    // v6: a tenant's plan and quota settings in one row (tenant_plans came with v4).
    writer_->exec(
        "CREATE TABLE IF NOT EXISTS tenant_plans (tenant_id TEXT PRIMARY KEY, plan TEXT NOT NULL, "
        "updated_at INTEGER NOT NULL)");
    writer_->exec(
        "INSERT INTO tenant_settings SELECT q.tenant_id, p.plan, 1, q.time_zone, q.enforcement, "
        "q.queries_per_day, q.queries_per_month, q.tokens_per_day, q.tokens_per_month, q.storage_gb, "
        "q.storage_gb_per_month, max(q.updated_at, coalesce(p.updated_at, 0)) "
        "FROM tenant_quotas q LEFT JOIN tenant_plans p USING (tenant_id)");
    writer_->exec(
        "INSERT INTO tenant_settings (tenant_id, plan, quota_set, time_zone, enforcement, updated_at) "
        "SELECT tenant_id, plan, 0, 'UTC', 'soft', updated_at FROM tenant_plans "
        "WHERE tenant_id NOT IN (SELECT tenant_id FROM tenant_quotas)");
    writer_->exec("DROP TABLE tenant_quotas");
    writer_->exec("DROP TABLE tenant_plans");
    writer_->exec("UPDATE meter_schema SET version = 6");
  }
  if (from < 7) {
    // v7: retractions (docs/corrections.md) name the event they cancel.
    std::vector<int> existing;
    {
      SQLite::Statement months(*writer_, "SELECT month FROM usage_partitions");
      while (months.executeStep()) existing.push_back(months.getColumn(0).getInt());
    }
    for (int month : existing)
      writer_->exec(fmt::format("ALTER TABLE {} ADD COLUMN cancels TEXT", partition_table(month)));
    writer_->exec("UPDATE meter_schema SET version = 7");
  }
  if (from < 8) writer_->exec("UPDATE meter_schema SET version = 8");    // v8: adjustments (created above)
  if (from < 9) writer_->exec("UPDATE meter_schema SET version = 9");    // v9: credits (created above)
  if (from < 10) writer_->exec("UPDATE meter_schema SET version = 10");  // v10: credit rules
  if (from < 11) {
    // v11: hourly usage is summed from the quarter hours when read.
    writer_->exec("DROP TABLE IF EXISTS usage_hourly");
    writer_->exec("UPDATE meter_schema SET version = 11");
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
                    "received_at INTEGER NOT NULL, metadata TEXT NOT NULL, cancels TEXT)",
                    table));
    writer_->exec(fmt::format("INSERT OR IGNORE INTO usage_partitions VALUES ({})", month));
    months_.insert(month);
    rebuild_events_view();
  }
  auto& stmt = inserts_[month];
  if (!stmt) {
    stmt = std::make_unique<SQLite::Statement>(
        *writer_, fmt::format("INSERT INTO {} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", partition_table(month)));
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

Result<EventLog::AlreadyStored> SqliteStore::append(std::span<const Event> events) {
  if (events.empty()) return AlreadyStored{};
  RollupMap quarters, daily;
  if (auto s = aggregate(events, quarters, daily); !s) return fail(s.error());
  MutexLock writes(write_mutex_);
  try {
    WriteTransaction tx(*writer_, *begin_, *commit_, *rollback_);
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
      if (e.is_retraction())
        insert->bindNoCopy(8, e.cancels);
      else
        insert->bind(8);
      insert->exec();
      if (e.is_retraction()) record_retraction(e, quantity);
    }
    upsert_quarter_->write(quarters);
    upsert_daily_->write(daily);
    write_staged_credit(to_unix_ms(events.front().received_at));
    staged_credit_ = {};
    tx.commit();
    return AlreadyStored{};
  } catch (const std::exception& ex) {
    // The transaction rolled back: forget partitions it may have created, and clear the failed
    // statements' error, which SQLite would otherwise report again at their next reset.
    for (auto* upsert : {upsert_quarter_.get(), upsert_daily_.get()}) upsert->reset();
    if (upsert_credit_line_) upsert_credit_line_->tryReset();
    staged_credit_ = {};
    if (insert_retraction_) insert_retraction_->tryReset();
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

void SqliteStore::record_retraction(const Event& e, const std::string& quantity) {
  if (!insert_retraction_) {
    insert_retraction_ = std::make_unique<SQLite::Statement>(
        *writer_, "INSERT INTO retractions VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  }
  auto& stmt = *insert_retraction_;
  stmt.reset();
  stmt.bindNoCopy(1, e.tenant_id);
  stmt.bind(2, month_key(e.timestamp));
  stmt.bindNoCopy(3, e.cancels);
  stmt.bindNoCopy(4, e.event_type);
  stmt.bindNoCopy(5, quantity);
  stmt.bind(6, static_cast<std::int64_t>(to_unix_ms(e.timestamp)));
  stmt.bind(7, static_cast<std::int64_t>(to_unix_ms(e.received_at)));
  stmt.bindNoCopy(8, e.metadata);
  stmt.exec();
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
    // Hours are summed from their quarters; an hour is in when it starts before `to`, as a day
    // is, so its quarters are read up to the end of the hour `to` falls in.
    bool hours = query.window == Window::kHour;
    const char* table =
        query.window == Window::kDay || query.window == Window::kMonth ? "usage_daily" : "usage_quarter_hour";
    std::int64_t to = to_unix_ms(query.to);
    if (hours) to = floor_ms(to - 1, kHourMs) + kHourMs;
    std::string columns = hours ? fmt::format(
                                      "bucket_start - bucket_start % {} AS bucket, event_type, "
                                      "meter_dec_sum(quantity), sum(events)",
                                      kHourMs)
                                : "bucket_start AS bucket, event_type, quantity, events";
    SQLite::Statement stmt(*reader,
                           fmt::format("SELECT {} FROM {} WHERE tenant_id = ?1 AND bucket_start >= ?2 "
                                       "AND bucket_start < ?3 AND (?4 IS NULL OR event_type = ?4) {}"
                                       "ORDER BY bucket, event_type",
                                       columns, table, hours ? "GROUP BY bucket, event_type " : ""));
    stmt.bind(1, query.tenant_id);
    stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(query.from)));
    stmt.bind(3, to);
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
      // Gauge readings one by one: live ones only (docs/corrections.md).
      SQLite::Statement stmt(
          *reader,
          fmt::format("SELECT tenant_id, event_type, quantity, ts FROM {0} e WHERE ts >= ? AND "
                      "event_type IN ({1}) AND cancels IS NULL AND NOT EXISTS (SELECT 1 FROM "
                      "retractions r WHERE r.tenant_id = e.tenant_id AND r.month = {2} AND r.cancels = e.id)",
                      partition_table(month), in, month));
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

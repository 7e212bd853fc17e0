// PgStore's event log: opening, the group-commit append and the start-up scan of the counters.
#include "store/postgres/pg_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/postgres/schema.h"
#include "store/postgres/usage_cache.h"

namespace meter::store::postgres {
namespace {

// The group being appended, per writer connection; emptied by every commit.
constexpr const char* kIncoming = R"sql(
CREATE TEMP TABLE IF NOT EXISTS incoming (
  pos integer NOT NULL, id text NOT NULL, tenant_id text NOT NULL, event_type text NOT NULL,
  quantity numeric NOT NULL, ts bigint NOT NULL, received_at bigint NOT NULL, metadata text NOT NULL,
  month integer NOT NULL, cancels text
) ON COMMIT DELETE ROWS)sql";

// The group in one statement (one round trip): claims its ids in event_ids, stores the events
// whose claim succeeded in the partitions and adds them to the three rollups; answers the
// positions of the others (already claimed by another writer). Sorted, so that concurrent
// groups lock ids and rollup rows in one order and cannot deadlock. When the database ships to
// ClickHouse (ship_state), the events carry the group's number and the group is queued for
// the shipper, per month (schema.cc, version 2).
std::string rollup_upsert(const char* table, std::int64_t bucket_ms, bool peak = false) {
  return fmt::format(
      "{0}_added AS (INSERT INTO {0} (tenant_id, bucket_start, event_type, quantity, events{2}) "
      "SELECT tenant_id, ts - ((ts % {1}) + {1}) % {1}, event_type, sum(quantity), {5}{3} FROM fresh "
      "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
      "ON CONFLICT (tenant_id, bucket_start, event_type) DO UPDATE SET "
      "quantity = {0}.quantity + excluded.quantity, events = {0}.events + excluded.events{4})",
      table, bucket_ms, peak ? ", peak" : "",
      peak ? ", coalesce(max(quantity) FILTER (WHERE cancels IS NULL), 0)" : "",
      peak ? fmt::format(", peak = greatest({}.peak, excluded.peak)", table) : "", kSignedCount);
}

// `fast`: the claims as a plain INSERT, which fails on the first id already claimed; the
// events need no join with the claims then, and nothing is reported already stored. Run
// under a savepoint, with the general statement (ON CONFLICT DO NOTHING) as the fallback.
std::string append_statement(bool fast) {
  return fmt::format(
      "WITH claimed AS (INSERT INTO event_ids (tenant_id, id, received_at) "
      "SELECT tenant_id, id, received_at FROM incoming ORDER BY tenant_id, id{}),\n"
      "fresh AS {},\n"
      "shipping AS (SELECT nextval('ship_groups') AS g FROM ship_state LIMIT 1),\n"
      "stored AS (INSERT INTO usage_events (id, tenant_id, event_type, quantity, ts, received_at, metadata, "
      "ship_group, cancels) SELECT id, tenant_id, event_type, quantity, ts, received_at, metadata, "
      "(SELECT g FROM shipping), cancels FROM fresh),\n"
      "queued AS (INSERT INTO ship_queue (group_id, month, events, received_at) "
      "SELECT s.g, f.month, count(*), max(f.received_at) FROM fresh f, shipping s GROUP BY s.g, f.month),\n"
      "{},\n{},\n{}\n{}",
      fast ? " RETURNING 1" : " ON CONFLICT DO NOTHING RETURNING tenant_id, id",
      // Reading the claims first makes them run before the rollups take any row lock: in the
      // other order two nodes' groups deadlock (one holds a rollup row, the other an id).
      fast ? "NOT MATERIALIZED (SELECT * FROM incoming WHERE (SELECT count(*) FROM claimed) > 0)"
           : "(SELECT i.* FROM incoming i JOIN claimed c ON c.tenant_id = i.tenant_id AND c.id = i.id)",
      rollup_upsert("usage_quarter_hour", 900'000, true), rollup_upsert("usage_hourly", 3'600'000),
      rollup_upsert("usage_daily", 86'400'000),
      fast ? "SELECT pos FROM incoming WHERE false"
           : "SELECT pos FROM incoming i WHERE NOT EXISTS "
             "(SELECT 1 FROM claimed c WHERE c.tenant_id = i.tenant_id AND c.id = i.id) ORDER BY pos");
}

// Tells every node's UsageCache, at commit, whose stored usage changed (usage_cache.h).
const std::string kNotify = fmt::format(
    "SELECT pg_notify('{}', CASE WHEN length(t) > 7900 THEN '*' ELSE t END) "
    "FROM (SELECT string_agg(DISTINCT tenant_id, E'\\n') AS t FROM incoming) s;\n",
    kUsageChannel);

}  // namespace

PgStore::PgStore(PgOptions options) : options_(std::move(options)), pool_(options_.url, options_.timeout) {}

Result<std::unique_ptr<PgStore>> PgStore::open(PgOptions options) {
  std::unique_ptr<PgStore> store(new PgStore(std::move(options)));
  auto db = store->pool_.borrow();
  if (!db) return fail(db.error());
  auto migrated = migrate(**db);
  if (!migrated) return fail(migrated.error());
  return store;
}

std::int64_t PgStore::now_ms() const {
  return to_unix_ms(options_.clock != nullptr ? options_.clock->now() : SystemClock().now());
}

Result<Connection*> PgStore::writer() {
  if (writer_ && !writer_->broken()) return writer_.get();
  writer_.reset();
  months_.clear();
  auto conn = Connection::open(options_.url, options_.timeout);
  if (!conn) return fail(conn.error());
  // Prepared once per connection: planning the statement took longer than running it for a
  // group of tens of events (1.1-1.9 ms against 2.2-3.6 ms for 33, measured with EXPLAIN).
  if (auto s =
          (*conn)->exec(fmt::format("{};\nPREPARE meterd_append AS {};\nPREPARE meterd_append_fast AS {}",
                                    kIncoming, append_statement(false), append_statement(true)));
      !s) {
    return fail(s.error());
  }
  writer_ = std::move(*conn);
  return writer_.get();
}

Status PgStore::begin_group() {
  if (in_group_) return {};
  auto db = writer();
  if (!db) return fail(db.error());
  if (auto begun = (*db)->exec("BEGIN"); !begun) {
    writer_.reset();  // libpq may not have noticed the server is gone: start afresh next time
    return fail(begun.error());
  }
  in_group_ = true;
  return {};
}

void PgStore::abort_group() {
  // A connection that cannot even roll back is dropped: the next group opens a new one.
  if (writer_ && (writer_->broken() || !writer_->exec("ROLLBACK"))) writer_.reset();
  in_group_ = false;
}

Status PgStore::lock_tenants(std::span<const std::string> tenants) {
  if (tenants.empty()) return {};
  if (auto s = begin_group(); !s) return s;
  // In the array's (sorted) order: every writer takes them in the same order.
  Param params[] = {text_array(tenants)};
  auto locked = writer_->query(
      "SELECT pg_advisory_xact_lock(hashtextextended(t, 0)) FROM unnest($1::text[]) t", params);
  if (!locked) {
    abort_group();
    return fail(locked.error());
  }
  return {};
}

namespace {

// What the tenant stored in each window, in one pass over the quarter hours any window covers:
// a FILTER per window, summing quantities (or the peaks of a gauge's).
Result<std::vector<Decimal>> usage_in_windows(Connection& db, std::string_view tenant,
                                              std::span<const UsageWindow> windows) {
  if (windows.empty()) return std::vector<Decimal>();
  std::vector<Param> params = {std::string(tenant)};
  std::string columns;
  Timestamp from = windows.front().from, to = windows.front().to;
  for (const UsageWindow& w : windows) {
    params.push_back(text_array(w.types));
    params.push_back(std::to_string(to_unix_ms(w.from)));
    params.push_back(std::to_string(to_unix_ms(w.to)));
    std::size_t n = params.size();
    fmt::format_to(std::back_inserter(columns),
                   "{}coalesce({}({}) FILTER (WHERE event_type = ANY(${}::text[]) AND bucket_start >= ${} "
                   "AND bucket_start < ${}), 0)",
                   columns.empty() ? "" : ", ", w.peak ? "max" : "sum", w.peak ? "peak" : "quantity", n - 2,
                   n - 1, n);
    from = std::min(from, w.from);
    to = std::max(to, w.to);
  }
  params.push_back(std::to_string(to_unix_ms(from)));
  params.push_back(std::to_string(to_unix_ms(to)));
  auto row =
      db.query(fmt::format("SELECT {} FROM usage_quarter_hour WHERE tenant_id = $1 AND bucket_start >= ${} "
                           "AND bucket_start < ${}",
                           columns, params.size() - 1, params.size()),
               params);
  if (!row) return fail(row.error());
  std::vector<Decimal> out;
  for (int c = 0; c < static_cast<int>(windows.size()); ++c) {
    auto d = row->decimal(0, c, "a tenant's stored usage");
    if (!d) return fail(d.error());
    out.push_back(*d);
  }
  return out;
}

}  // namespace

Result<std::optional<Decimal>> PgStore::locked_usage(std::string_view tenant, const UsageWindow& window) {
  if (auto s = begin_group(); !s) return fail(s.error());  // unlocked tenants are read in it too
  auto used = usage_in_windows(*writer_, tenant, std::span(&window, 1));
  if (!used) {
    abort_group();
    return fail(used.error());
  }
  return std::optional<Decimal>(used->front());
}

Result<std::vector<Decimal>> PgStore::stored_usage(std::string_view tenant,
                                                   std::span<const UsageWindow> windows) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  return usage_in_windows(**db, tenant, windows);
}

Result<EventLog::AlreadyStored> PgStore::append_group(std::span<const Event> events, bool whole) {
  if (events.empty()) {
    staged_credit_ = {};
    // Nothing to store: end the group lock_tenants() may have begun.
    if (in_group_) {
      in_group_ = false;
      if (auto done = writer_->exec("COMMIT"); !done) {
        writer_.reset();
        return fail(done.error());
      }
    }
    return AlreadyStored{};
  }
  // New months' partitions on a pooled connection: DDL here would end the group's transaction.
  for (const Event& e : events) {
    int month = month_key(e.timestamp);
    if (months_.contains(month)) continue;
    auto db = pool_.borrow();
    if (!db) {
      abort_group();
      return fail(db.error());
    }
    if (auto s = ensure_partition(**db, month); !s) {
      abort_group();
      return fail(s.error());
    }
    months_.insert(month);
  }
  std::string rows;
  rows.reserve(events.size() * 160);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    fmt::format_to(std::back_inserter(rows), "{}\t", i);
    copy_field(rows, e.id);
    rows += '\t';
    copy_field(rows, e.tenant_id);
    rows += '\t';
    copy_field(rows, e.event_type);
    fmt::format_to(std::back_inserter(rows), "\t{}\t{}\t{}\t", e.quantity.to_string(),
                   to_unix_ms(e.timestamp), to_unix_ms(e.received_at));
    copy_field(rows, e.metadata);
    fmt::format_to(std::back_inserter(rows), "\t{}\t", month_key(e.timestamp));
    if (e.is_retraction())
      copy_field(rows, e.cancels);
    else
      rows += "\\N";
    rows += '\n';
  }
  // The group's credit (decided with its tenants' credit counts taken, credit_rules.cc): its
  // burns go with the append statement.
  std::string burns;
  if (!staged_credit_.empty()) {
    if (auto s = begin_group(); !s) {
      staged_credit_ = {};
      return fail(s.error());
    }
    auto sql = write_staged_credit(to_unix_ms(events.front().received_at));
    if (!sql) {
      abort_group();
      return fail(sql.error());
    }
    burns = std::move(*sql);
  }
  // Three round trips: BEGIN with the COPY (unless lock_tenants() began the group), the
  // statement with the COMMIT.
  bool begin = !in_group_;
  if (begin) {
    auto db = writer();
    if (!db) return fail(db.error());
    in_group_ = true;
  }
  auto stored = [&]() -> Result<AlreadyStored> {
    if (auto s =
            writer_->copy_in(begin ? "BEGIN; COPY incoming FROM STDIN" : "COPY incoming FROM STDIN", rows);
        !s)
      return fail(s.error());
    auto claimed = writer_->exec(burns + kNotify + "SAVEPOINT fast; EXECUTE meterd_append_fast; COMMIT");
    if (!claimed && claimed.error().code == ErrorCode::kConflict && !burns.empty() && !ids_checked_) {
      // Ids stored already (a retry, or another node): their events burnt credit that was not
      // theirs to burn. The group is redone, its admission told which ids are stored.
      redo_ = recheck_ids_ = true;
      return fail(Error::unavailable("events of this group were stored by another node meanwhile; retry"));
    }
    if (!claimed && claimed.error().code == ErrorCode::kConflict) {
      // An id was claimed already (a retry, or another node): the general statement sorts it out.
      claimed = writer_->exec(whole ? "ROLLBACK TO SAVEPOINT fast; EXECUTE meterd_append"
                                    : "ROLLBACK TO SAVEPOINT fast; EXECUTE meterd_append; COMMIT");
      if (whole && claimed) {
        if (claimed->size() != 0 && claimed->size() != static_cast<int>(events.size())) {
          return fail(
              Error{ErrorCode::kConflict,
                    "part of this correction was stored already by another node (another correction of "
                    "the same events, or a new event id in use); nothing of it was stored",
                    ""});
        }
        if (auto done = writer_->exec("COMMIT"); !done) return fail(done.error());
      }
    }
    if (!claimed) return fail(claimed.error());
    AlreadyStored already;
    for (int r = 0; r < claimed->size(); ++r)
      already.push_back(static_cast<std::size_t>(claimed->int64(r, 0)));
    return already;
  }();
  ids_checked_ = false;  // for this group only
  if (!stored) {
    abort_group();
    if (stored.error().code == ErrorCode::kInvalidArgument) {
      // A rollup's CHECK: a stored usage sum plus this group's would leave the decimal range.
      return fail(Error::invalid("quantity",
                                 "the stored usage sums these events add to would overflow (the largest is "
                                 "about 1.7e26); send smaller quantities"));
    }
    return stored;
  }
  in_group_ = false;
  if (stored->empty()) recheck_ids_ = false;
  expire_claims(*writer_);
  return stored;
}

Status PgStore::scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  std::string since_ms = std::to_string(to_unix_ms(since));
  Param params[] = {since_ms};
  auto sums = (*db)->query(
      "SELECT tenant_id, event_type, quantity, bucket_start FROM usage_quarter_hour WHERE bucket_start >= $1",
      params);
  if (!sums) return fail(sums.error());
  // Quarter-hour sums for summable types; the others (gauges) are read event by event.
  std::vector<std::string> one_by_one;
  for (int r = 0; r < sums->size(); ++r) {
    std::string_view type = sums->text(r, 1);
    if (!summable(type)) {
      if (std::find(one_by_one.begin(), one_by_one.end(), type) == one_by_one.end())
        one_by_one.emplace_back(type);
      continue;
    }
    auto quantity = sums->decimal(r, 2, "a quarter-hour sum");
    if (!quantity) return fail(quantity.error());
    visit(sums->text(r, 0), type, *quantity, from_unix_ms(sums->int64(r, 3)));
  }
  for (const std::string& type : one_by_one) {
    Param by_type[] = {since_ms, type};
    auto events = (*db)->query(
        "SELECT tenant_id, event_type, quantity, ts FROM usage_events WHERE ts >= $1 AND event_type = $2 "
        "AND cancels IS NULL AND (tenant_id, id) NOT IN (SELECT tenant_id, cancels FROM usage_events WHERE "
        "ts >= $1 AND event_type = $2 AND cancels IS NOT NULL)",
        by_type);
    if (!events) return fail(events.error());
    for (int r = 0; r < events->size(); ++r) {
      auto quantity = events->decimal(r, 2, "an event's quantity");
      if (!quantity) return fail(quantity.error());
      visit(events->text(r, 0), events->text(r, 1), *quantity, from_unix_ms(events->int64(r, 3)));
    }
  }
  return {};
}

Result<std::int64_t> PgStore::expire_ids(Connection& db, Timestamp cutoff, std::int64_t limit) {
  Param params[] = {std::to_string(to_unix_ms(cutoff)), std::to_string(limit)};
  auto deleted = db.query(
      "WITH gone AS (DELETE FROM event_ids WHERE ctid = ANY (ARRAY(SELECT ctid FROM event_ids WHERE "
      "received_at < $1 LIMIT $2)) RETURNING 1) SELECT count(*) FROM gone",
      params);
  if (!deleted) return fail(deleted.error());
  return deleted->int64(0, 0);
}

void PgStore::expire_claims(Connection& db) {
  Timestamp now = options_.clock != nullptr ? options_.clock->now() : SystemClock().now();
  if (now < next_expiry_) return;
  constexpr std::int64_t kBatch = 20'000;  // a few tens of milliseconds of one commit
  auto gone = expire_ids(db, now - options_.claim_window, kBatch);
  if (!gone) {
    spdlog::warn("forgetting ids past the dedupe window failed (retried in a minute): {}",
                 gone.error().message);
    next_expiry_ = now + std::chrono::minutes(1);
    return;
  }
  if (*gone > 0) spdlog::debug("postgresql: forgot {} ids older than the dedupe window", *gone);
  next_expiry_ = *gone == kBatch ? now : now + std::chrono::hours(1);  // more left: again next commit
}

}  // namespace meter::store::postgres

// PgShipLog: the outbox to ClickHouse in the shared database (ship_log.h, schema.cc version 2).
#include "store/postgres/ship_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/time.h"
#include "store/postgres/schema.h"

namespace meter::store::postgres {
namespace {

constexpr const char* kServerNowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

// Queues the events a month's partition already holds, in groups of `chunk`.
Result<std::int64_t> queue_stored_month(Connection& tx, int month, std::size_t chunk) {
  auto queued = tx.exec(fmt::format(
      "WITH numbered AS (SELECT ctid AS c, received_at, (row_number() OVER () - 1) / {1} AS chunk "
      "FROM usage_events_{0} WHERE ship_group IS NULL),\n"
      "groups AS (SELECT chunk, nextval('ship_groups') AS g, count(*) AS n, max(received_at) AS r "
      "FROM numbered GROUP BY chunk),\n"
      "tagged AS (UPDATE usage_events_{0} u SET ship_group = groups.g FROM numbered JOIN groups USING "
      "(chunk) "
      "WHERE u.ctid = numbered.c)\n"
      "INSERT INTO ship_queue (group_id, month, events, received_at) SELECT g, {0}, n, r FROM groups "
      "RETURNING events",
      month, chunk));
  if (!queued) return fail(queued.error());
  std::int64_t events = 0;
  for (int r = 0; r < queued->size(); ++r) events += queued->int64(r, 0);
  return events;
}

// Once per database: ship_state gets its row, and what is stored is queued. The table lock
// waits for groups in flight and holds new ones back, so each event is queued exactly once:
// by this transaction, or by its own group's after it.
Result<std::int64_t> enable_shipping(Connection& db, std::size_t chunk) {
  auto on = db.exec("SELECT 1 FROM ship_state");
  if (!on) return fail(on.error());
  if (on->size() > 0) return std::int64_t{0};
  return in_transaction(db, [&](Connection& tx) -> Result<std::int64_t> {
    auto locked = tx.exec("LOCK TABLE usage_events IN SHARE ROW EXCLUSIVE MODE; SELECT 1 FROM ship_state");
    if (!locked) return fail(locked.error());
    if (locked->size() > 0) return std::int64_t{0};  // another node was first
    auto months = partitions(tx);
    if (!months) return fail(months.error());
    std::int64_t total = 0;
    for (int month : *months) {
      auto queued = queue_stored_month(tx, month, chunk);
      if (!queued) return fail(queued.error());
      if (*queued > 0)
        spdlog::info("shipping turned on: queued {} stored events of {} for ClickHouse", *queued, month);
      total += *queued;
    }
    if (auto s = tx.exec(fmt::format("INSERT INTO ship_state VALUES ('clickhouse', {})", kServerNowMs)); !s)
      return fail(s.error());
    return total;
  });
}

Result<std::vector<Event>> read_events(Connection& db, std::string groups, int month) {
  Timestamp start = month_start(month);
  Param params[] = {std::move(groups), std::to_string(to_unix_ms(start)),
                    std::to_string(to_unix_ms(next_window(Window::kMonth, start)))};
  auto rows = db.query(
      "SELECT id, tenant_id, event_type, quantity, ts, received_at, metadata, coalesce(cancels, '') FROM "
      "usage_events "
      "WHERE ship_group = ANY($1::bigint[]) AND ts >= $2 AND ts < $3",
      params);
  if (!rows) return fail(rows.error());
  std::vector<Event> events;
  events.reserve(static_cast<std::size_t>(rows->size()));
  for (int r = 0; r < rows->size(); ++r) {
    auto quantity = rows->decimal(r, 3, "an event's quantity");
    if (!quantity) return fail(quantity.error());
    events.push_back(Event{rows->str(r, 0), rows->str(r, 1), rows->str(r, 2), *quantity,
                           from_unix_ms(rows->int64(r, 4)), from_unix_ms(rows->int64(r, 5)), rows->str(r, 6),
                           rows->str(r, 7)});
  }
  return events;
}

}  // namespace

Result<std::unique_ptr<PgShipLog>> PgShipLog::open(ShipLogOptions options) {
  std::unique_ptr<PgShipLog> log(new PgShipLog(std::move(options)));
  MutexLock lock(log->mutex_);
  auto db = log->connection();
  if (!db) return fail(db.error());
  if (!log->options_.turn_on) return log;
  auto queued = enable_shipping(**db, log->options_.backfill_chunk);
  if (!queued) return fail(queued.error());
  return log;
}

Result<Connection*> PgShipLog::connection() {
  if (conn_ && !conn_->broken()) return conn_.get();
  if (leader_) spdlog::warn("lost the connection holding the shipping lock: another node may ship now");
  leader_ = false;
  conn_.reset();
  auto conn = Connection::open(options_.url, options_.timeout);
  if (!conn) return fail(conn.error());
  conn_ = std::move(*conn);
  return conn_.get();
}

void PgShipLog::forget_if_broken() {
  if (conn_ && conn_->broken()) (void)connection();
}

Result<Connection*> PgShipLog::leader() {
  auto db = connection();
  if (!db) return fail(db.error());
  if (leader_) return *db;
  auto now = std::chrono::steady_clock::now();
  if (now < next_try_) return nullptr;
  next_try_ = now + options_.takeover_poll;
  auto got = (*db)->exec(fmt::format("SELECT pg_try_advisory_lock({})", kShipLock));
  if (!got) {
    forget_if_broken();
    return fail(got.error());
  }
  leader_ = got->text(0, 0) == "t";
  if (!leader_) return nullptr;
  spdlog::info("this node ships to ClickHouse now (it holds the shipping lock)");
  backlog_until_ = {};
  return *db;
}

bool PgShipLog::ships_here() const {
  MutexLock lock(mutex_);
  return leader_;
}

Result<std::optional<Shipment>> PgShipLog::next_shipment(std::size_t max_events,
                                                         std::string_view new_batch_id) {
  MutexLock lock(mutex_);
  auto db = leader();
  if (!db) return fail(db.error());
  if (*db == nullptr) return std::optional<Shipment>();
  auto shipment = take_shipment(**db, max_events, new_batch_id);
  if (!shipment) forget_if_broken();
  return shipment;
}

Result<std::optional<Shipment>> PgShipLog::take_shipment(Connection& c, std::size_t max_events,
                                                         std::string_view new_batch_id) {
  auto open =
      c.exec(fmt::format("SELECT batch_id, month, groups, started_at, {} FROM ship_in_flight", kServerNowMs));
  if (!open) return fail(open.error());
  Shipment s;
  std::string groups;
  if (open->size() > 0) {
    s.batch_id = open->str(0, 0);
    s.month = static_cast<int>(open->int64(0, 1));
    groups = open->str(0, 2);
    s.resumed = true;
    auto grace = options_.takeover_grace.count();
    if (s.batch_id != own_batch_ && open->int64(0, 4) < open->int64(0, 3) + grace) {
      return std::optional<Shipment>();  // another node's send may still be landing
    }
  } else {
    Param params[] = {std::to_string(max_events)};
    auto queue = c.query(
        "SELECT month, group_id, events FROM ship_queue WHERE month = (SELECT min(month) FROM ship_queue) "
        "ORDER BY group_id LIMIT $1",
        params);
    if (!queue) return fail(queue.error());
    if (queue->size() == 0) return std::optional<Shipment>();
    std::int64_t events = 0;
    groups = "{";
    for (int r = 0; r < queue->size(); ++r) {
      std::int64_t n = queue->int64(r, 2);
      if (r > 0 && events + n > static_cast<std::int64_t>(max_events)) break;
      events += n;
      groups += (r > 0 ? "," : "") + queue->str(r, 1);
    }
    groups += "}";
    s.batch_id = std::string(new_batch_id);
    s.month = static_cast<int>(queue->int64(0, 0));
    Param record[] = {s.batch_id, std::to_string(s.month), groups, std::to_string(events)};
    auto recorded =
        c.query(fmt::format("INSERT INTO ship_in_flight VALUES ($1, $2, $3::bigint[], $4, {})", kServerNowMs),
                record);
    if (!recorded) return fail(recorded.error());
    own_batch_ = s.batch_id;
  }
  auto events = read_events(c, groups, s.month);
  if (!events) return fail(events.error());
  s.events = std::move(*events);
  return std::optional<Shipment>(std::move(s));
}

Status PgShipLog::confirm_shipment(const Shipment& shipment) {
  MutexLock lock(mutex_);
  if (!leader_ || !conn_ || conn_->broken()) {
    forget_if_broken();
    return fail(Error::unavailable("lost the shipping lock before confirming batch " + shipment.batch_id +
                                   "; the node that ships next checks it in ClickHouse"));
  }
  Param params[] = {shipment.batch_id};
  auto done = conn_->query(
      "WITH f AS (DELETE FROM ship_in_flight WHERE batch_id = $1 RETURNING month, groups) "
      "DELETE FROM ship_queue q USING f WHERE q.month = f.month AND q.group_id = ANY(f.groups)",
      params);
  if (!done) {
    forget_if_broken();
    return fail(done.error());
  }
  own_batch_.clear();
  backlog_until_ = {};
  return {};
}

Result<Backlog> PgShipLog::backlog() {
  MutexLock lock(mutex_);
  // The shipper polls this even when nothing waits: the lock is taken here, so that a node
  // ships (and says so in /health) before the first event arrives.
  if (auto taken = leader(); !taken) return fail(taken.error());
  auto now = std::chrono::steady_clock::now();
  if (!leader_ && now < backlog_until_) return backlog_;
  auto db = connection();
  if (!db) return fail(db.error());
  auto rows = (*db)->exec("SELECT coalesce(sum(events), 0), min(received_at) FROM ship_queue");
  if (!rows) {
    forget_if_broken();
    return fail(rows.error());
  }
  backlog_.events = rows->int64(0, 0);
  backlog_.oldest_received =
      rows->null(0, 1) ? std::nullopt : std::optional<Timestamp>(from_unix_ms(rows->int64(0, 1)));
  backlog_until_ = now + options_.takeover_poll;
  return backlog_;
}

}  // namespace meter::store::postgres

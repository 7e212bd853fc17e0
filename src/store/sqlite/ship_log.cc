// SqliteStore as the shipper's durable log (store/ship_log.h). The raw tables are rowid
// tables that only ever grow (retention drops whole tables), so a month's events after the
// cursor are exactly its rows with a larger rowid, and the backlog is max(rowid) - cursor.
#include <fmt/format.h>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

struct Cursor {
  std::int64_t shipped = 0;
  std::optional<std::string> pending_batch;
  std::int64_t pending_last = 0;
};

Cursor read_cursor(SQLite::Database& db, int month) {
  SQLite::Statement stmt(
      db, "SELECT shipped_rowid, pending_batch, pending_last_rowid FROM ship_state WHERE month = ?");
  stmt.bind(1, month);
  Cursor c;
  if (stmt.executeStep()) {
    c.shipped = stmt.getColumn(0).getInt64();
    if (!stmt.getColumn(1).isNull()) c.pending_batch = stmt.getColumn(1).getString();
    c.pending_last = stmt.getColumn(2).getInt64();
  }
  return c;
}

// Fills s.events with the rows s.first_rowid..s.last_rowid of s.month.
Status read_events(SQLite::Database& reader, Shipment& s) {
  SQLite::Statement rows(reader,
                         fmt::format("SELECT id, tenant_id, event_type, quantity, ts, received_at, metadata, "
                                     "coalesce(cancels, '') FROM usage_events_{} WHERE rowid BETWEEN ? AND ? "
                                     "ORDER BY rowid",
                                     s.month));
  rows.bind(1, s.first_rowid);
  rows.bind(2, s.last_rowid);
  s.events.reserve(static_cast<std::size_t>(s.last_rowid - s.first_rowid + 1));
  while (rows.executeStep()) {
    auto quantity = stored_decimal(rows.getColumn(3).getString(), fmt::format("usage_events_{}", s.month));
    if (!quantity) return fail(quantity.error());
    s.events.push_back({rows.getColumn(0).getString(), rows.getColumn(1).getString(),
                        rows.getColumn(2).getString(), *quantity, from_unix_ms(rows.getColumn(4).getInt64()),
                        from_unix_ms(rows.getColumn(5).getInt64()), rows.getColumn(6).getString(),
                        rows.getColumn(7).getString()});
  }
  return {};
}

void record_in_flight(SQLite::Database& writer, const Shipment& s) {
  SQLite::Statement record(writer,
                           "INSERT INTO ship_state (month, shipped_rowid, pending_batch, pending_last_rowid) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (month) DO UPDATE SET "
                           "pending_batch = ?3, pending_last_rowid = ?4");
  record.bind(1, s.month);
  record.bind(2, s.first_rowid - 1);
  record.bind(3, s.batch_id);
  record.bind(4, s.last_rowid);
  record.exec();
}

Status record_shipped(SQLite::Database& writer, const Shipment& s) {
  SQLite::Statement stmt(
      writer,
      "UPDATE ship_state SET shipped_rowid = ?, pending_batch = NULL, pending_last_rowid = NULL "
      "WHERE month = ? AND pending_batch = ?");
  stmt.bind(1, s.last_rowid);
  stmt.bind(2, s.month);
  stmt.bind(3, s.batch_id);
  if (stmt.exec() != 1) return fail(Error::internal("shipment " + s.batch_id + " is not the one in flight"));
  return {};
}

}  // namespace

// The next run of events after the cursors, oldest month first; `in_flight` (not yet confirmed)
// counts as shipped. s.month == 0 when nothing waits.
Shipment SqliteStore::next_run(SQLite::Database& reader, std::size_t max_events, std::string_view batch_id,
                               const Shipment* in_flight) {
  std::vector<int> months = partitions();
  for (int month : in_flight ? std::vector<int>() : months) {  // the one in flight first
    Cursor c = read_cursor(reader, month);
    if (c.pending_batch) return {*c.pending_batch, month, c.shipped + 1, c.pending_last, true, {}};
  }
  for (int month : months) {
    Cursor c = read_cursor(reader, month);
    std::int64_t shipped =
        in_flight && in_flight->month == month ? std::max(c.shipped, in_flight->last_rowid) : c.shipped;
    std::int64_t last = last_rowid(reader, month);
    if (last > shipped) {
      return {std::string(batch_id),
              month,
              shipped + 1,
              std::min<std::int64_t>(last, shipped + static_cast<std::int64_t>(max_events)),
              false,
              {}};
    }
  }
  return {};
}

Result<std::optional<Shipment>> SqliteStore::next_shipment(std::size_t max_events,
                                                           std::string_view new_batch_id) {
  return sqlite_call("reading the local log", [&]() -> Result<std::optional<Shipment>> {
    auto reader = borrow_connection();
    Shipment s = next_run(*reader, max_events, new_batch_id, nullptr);
    if (s.month == 0) return std::optional<Shipment>();
    if (auto read = read_events(*reader, s); !read) return fail(read.error());
    if (!s.resumed) {
      MutexLock writes(write_mutex_);
      record_in_flight(*writer_, s);
    }
    return std::optional<Shipment>(std::move(s));
  });
}

Result<std::optional<Shipment>> SqliteStore::read_ahead(const Shipment& in_flight, std::size_t max_events,
                                                        std::string_view new_batch_id) {
  return sqlite_call("reading the local log", [&]() -> Result<std::optional<Shipment>> {
    auto reader = borrow_connection();
    Shipment s = next_run(*reader, max_events, new_batch_id, &in_flight);
    if (s.month == 0) return std::optional<Shipment>();
    if (auto read = read_events(*reader, s); !read) return fail(read.error());
    return std::optional<Shipment>(std::move(s));
  });
}

Status SqliteStore::confirm_shipment(const Shipment& shipment) {
  return sqlite_call("recording a shipment", [&]() -> Status {
    MutexLock writes(write_mutex_);
    return record_shipped(*writer_, shipment);
  });
}

Status SqliteStore::confirm_and_begin(const Shipment& done, const Shipment& next) {
  return sqlite_call("recording a shipment", [&]() -> Status {
    MutexLock writes(write_mutex_);
    SQLite::Transaction both(*writer_);
    if (auto s = record_shipped(*writer_, done); !s) return s;
    record_in_flight(*writer_, next);
    both.commit();
    return {};
  });
}

Result<Backlog> SqliteStore::backlog() {
  return sqlite_call("reading the local log", [&]() -> Result<Backlog> {
    auto reader = borrow_connection();
    Backlog b;
    for (int month : partitions()) {
      Cursor c = read_cursor(*reader, month);
      std::int64_t waiting = last_rowid(*reader, month) - c.shipped;
      if (waiting <= 0) continue;
      b.events += waiting;
      SQLite::Statement first(*reader,
                              fmt::format("SELECT received_at FROM usage_events_{} WHERE rowid = ?", month));
      first.bind(1, c.shipped + 1);
      if (first.executeStep()) {
        Timestamp t = from_unix_ms(first.getColumn(0).getInt64());
        if (!b.oldest_received || t < *b.oldest_received) b.oldest_received = t;
      }
    }
    return b;
  });
}

}  // namespace meter::store::sqlite

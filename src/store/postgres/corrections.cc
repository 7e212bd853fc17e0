// PgStore's side of corrections (docs/corrections.md): finding the events a correction names,
// a range's live events, and the retractions stored so far (rows whose `cancels` is set).
#include <fmt/format.h>

#include <vector>

#include "store/postgres/pg_store.h"
#include "store/postgres/schema.h"

namespace meter::store::postgres {
namespace {

constexpr const char* kColumns =
    "id, tenant_id, event_type, quantity, ts, received_at, metadata, "
    "coalesce(cancels, '')";

// A row selected as kColumns.
Result<Event> event_at(const Rows& rows, int r) {
  auto quantity = rows.decimal(r, 3, "an event's quantity");
  if (!quantity) return fail(quantity.error());
  return Event{rows.str(r, 0),
               rows.str(r, 1),
               rows.str(r, 2),
               *quantity,
               from_unix_ms(rows.int64(r, 4)),
               from_unix_ms(rows.int64(r, 5)),
               rows.str(r, 6),
               rows.str(r, 7)};
}

Result<std::vector<Event>> events_of(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  std::vector<Event> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto e = event_at(*rows, r);
    if (!e) return fail(e.error());
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace

Result<std::vector<EventLog::Found>> PgStore::find_events(std::string_view tenant_id,
                                                          std::span<const std::string> ids) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), text_array(ids)};
  // No index on id (as on SQLite): the tenant's rows are scanned; retractions by their index.
  auto events = events_of((*db)->query(
      fmt::format(
          "SELECT {} FROM usage_events WHERE tenant_id = $1 AND id = ANY($2::text[]) AND cancels IS NULL",
          kColumns),
      params));
  if (!events) return fail(events.error());
  auto retractions = events_of((*db)->query(
      fmt::format("SELECT {} FROM usage_events WHERE tenant_id = $1 AND cancels = ANY($2::text[])", kColumns),
      params));
  if (!retractions) return fail(retractions.error());
  std::vector<Found> found;
  for (Event& e : *events) {
    Found f{std::move(e), std::nullopt};
    for (const Event& r : *retractions) {
      if (r.cancels == f.event.id) f.retraction = r;
    }
    found.push_back(std::move(f));
  }
  return found;
}

Result<std::vector<Event>> PgStore::live_events(std::string_view tenant_id, std::string_view event_type,
                                                Timestamp from, Timestamp to, std::size_t limit) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(to_unix_ms(from)), std::to_string(to_unix_ms(to)),
                    std::string(event_type), std::to_string(limit)};
  return events_of(
      (*db)->query(fmt::format("SELECT {} FROM usage_events WHERE tenant_id = $1 AND ts >= $2 AND "
                               "ts < $3 AND event_type = $4{} ORDER BY ts, id LIMIT $5",
                               kColumns, kLiveRows),
                   params));
}

Result<std::vector<Event>> PgStore::retractions(std::string_view tenant_id, Timestamp from, Timestamp to,
                                                std::size_t limit) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(to_unix_ms(from)), std::to_string(to_unix_ms(to)),
                    std::to_string(limit)};
  return events_of((*db)->query(
      fmt::format(
          "SELECT {} FROM usage_events WHERE tenant_id = $1 AND cancels IS NOT NULL AND received_at >= $2 "
          "AND received_at < $3 ORDER BY received_at DESC, cancels LIMIT $4",
          kColumns),
      params));
}

}  // namespace meter::store::postgres

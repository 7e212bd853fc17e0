// SqliteStore's side of corrections (docs/corrections.md): finding the events a correction
// names, and the retractions stored so far.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// A retractions row (its columns in table order, from `first`) as the retraction event.
Result<Event> retraction_at(SQLite::Statement& row, int first) {
  auto quantity = stored_decimal(row.getColumn(first + 4).getString(), "retractions");
  if (!quantity) return fail(quantity.error());
  Event r;
  r.tenant_id = row.getColumn(first).getString();
  r.cancels = row.getColumn(first + 2).getString();
  r.id = retraction_id(r.cancels);
  r.event_type = row.getColumn(first + 3).getString();
  r.quantity = *quantity;
  r.timestamp = from_unix_ms(row.getColumn(first + 5).getInt64());
  r.received_at = from_unix_ms(row.getColumn(first + 6).getInt64());
  r.metadata = row.getColumn(first + 7).getString();
  return r;
}

// An event row selected as kEventColumns, of `tenant` in partition `month`.
constexpr const char* kEventColumns = "id, event_type, quantity, ts, received_at, metadata";
Result<Event> event_at(SQLite::Statement& row, std::string_view tenant, int month) {
  auto quantity = stored_decimal(row.getColumn(2).getString(), fmt::format("usage_events_{}", month));
  if (!quantity) return fail(quantity.error());
  return Event{row.getColumn(0).getString(),
               std::string(tenant),
               row.getColumn(1).getString(),
               *quantity,
               from_unix_ms(row.getColumn(3).getInt64()),
               from_unix_ms(row.getColumn(4).getInt64()),
               row.getColumn(5).getString(),
               {}};
}

}  // namespace

// No index on id (docs/corrections.md says why): the tenant's rows are scanned, newest month
// first, until every id is found.
Result<std::vector<EventLog::Found>> SqliteStore::find_events(std::string_view tenant_id,
                                                              std::span<const std::string> ids) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<Found>> {
    auto reader = borrow_connection();
    std::set<std::string, std::less<>> missing(ids.begin(), ids.end());
    std::vector<Found> found;
    auto months = partitions();
    for (auto month = months.rbegin(); month != months.rend() && !missing.empty(); ++month) {
      SQLite::Statement rows(*reader, fmt::format("SELECT {} FROM usage_events_{} WHERE tenant_id = ? AND "
                                                  "cancels IS NULL AND id IN ({})",
                                                  kEventColumns, *month, placeholders(missing.size())));
      rows.bind(1, std::string(tenant_id));
      int at = 2;
      for (const auto& id : missing) rows.bind(at++, id);
      std::size_t first_found = found.size();
      while (rows.executeStep()) {
        auto e = event_at(rows, tenant_id, *month);
        if (!e) return fail(e.error());
        missing.erase(e->id);
        found.push_back({std::move(*e), std::nullopt});
      }
      if (found.size() == first_found) continue;
      SQLite::Statement retracted(*reader,
                                  fmt::format("SELECT * FROM retractions WHERE tenant_id = ? AND month = ? "
                                              "AND cancels IN ({})",
                                              placeholders(found.size() - first_found)));
      retracted.bind(1, std::string(tenant_id));
      retracted.bind(2, *month);
      for (std::size_t i = first_found; i < found.size(); ++i)
        retracted.bind(static_cast<int>(i - first_found + 3), found[i].event.id);
      while (retracted.executeStep()) {
        auto r = retraction_at(retracted, 0);
        if (!r) return fail(r.error());
        auto it = std::find_if(found.begin() + static_cast<std::ptrdiff_t>(first_found), found.end(),
                               [&](const Found& f) { return f.event.id == r->cancels; });
        if (it != found.end()) it->retraction = std::move(*r);
      }
    }
    return found;
  });
}

Result<std::vector<Event>> SqliteStore::live_events(std::string_view tenant_id, std::string_view event_type,
                                                    Timestamp from, Timestamp to, std::size_t limit) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<Event>> {
    auto reader = borrow_connection();
    std::vector<Event> out;
    std::string tenant(tenant_id);
    for (int month : partitions()) {
      if (month < month_key(from) || month > month_key(to) || out.size() >= limit) continue;
      SQLite::Statement rows(*reader,
                             fmt::format("SELECT {} FROM usage_events_{} WHERE tenant_id = ?1 AND "
                                         "event_type = ?2 AND ts >= ?3 AND ts < ?4{} ORDER BY ts, id "
                                         "LIMIT ?5",
                                         kEventColumns, month, live_rows(*reader, tenant, month)));
      rows.bind(1, tenant);
      rows.bind(2, std::string(event_type));
      rows.bind(3, static_cast<std::int64_t>(to_unix_ms(from)));
      rows.bind(4, static_cast<std::int64_t>(to_unix_ms(to)));
      rows.bind(5, static_cast<std::int64_t>(limit - out.size()));
      while (rows.executeStep()) {
        auto e = event_at(rows, tenant_id, month);
        if (!e) return fail(e.error());
        out.push_back(std::move(*e));
      }
    }
    return out;
  });
}

Result<std::vector<Event>> SqliteStore::retractions(std::string_view tenant_id, Timestamp from, Timestamp to,
                                                    std::size_t limit) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<Event>> {
    auto reader = borrow_connection();
    SQLite::Statement rows(
        *reader,
        "SELECT * FROM retractions WHERE tenant_id = ? AND received_at >= ? AND received_at < ? "
        "ORDER BY received_at DESC, cancels LIMIT ?");
    rows.bind(1, std::string(tenant_id));
    rows.bind(2, static_cast<std::int64_t>(to_unix_ms(from)));
    rows.bind(3, static_cast<std::int64_t>(to_unix_ms(to)));
    rows.bind(4, static_cast<std::int64_t>(limit));
    std::vector<Event> out;
    while (rows.executeStep()) {
      auto r = retraction_at(rows, 0);
      if (!r) return fail(r.error());
      out.push_back(std::move(*r));
    }
    return out;
  });
}

}  // namespace meter::store::sqlite

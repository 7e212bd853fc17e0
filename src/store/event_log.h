#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/event.h"
#include "core/time.h"
#include "store/usage_window.h"

namespace meter::store {

using IdVisitor = std::function<void(std::string_view tenant_id, std::string_view id, Timestamp received_at)>;
using EventVisitor = std::function<void(std::string_view tenant_id, std::string_view event_type,
                                        Decimal quantity, Timestamp timestamp)>;
using TypeFilter = std::function<bool(std::string_view event_type)>;

// Where the raw events end: the last row of each monthly partition (YYYYMM -> row number).
// Rows are only ever appended, so the rows past a cursor are the events stored since it was read.
using RowCursor = std::map<int, std::int64_t>;

// True when the store, whose cursor now is `stored`, still has every row `cursor` counts: each
// partition it names is there with at least as many rows. Otherwise the cursor describes another
// history (a dropped or replaced partition, a store restored from an older backup).
inline bool has_rows(const RowCursor& stored, const RowCursor& cursor) {
  for (const auto& [month, row] : cursor) {
    auto it = stored.find(month);
    if (it == stored.end() || it->second < row) return false;
  }
  return true;
}

// The durable log acknowledged events are written to, and what the ingest writer and the live
// state (dedupe index, quota counters) are rebuilt from at start. Implementations: sqlite/
// (embedded, the default; with ClickHouse, the log events wait in until they are shipped).
//
// append() is called by one thread at a time (the ingest writer) and is atomic: either every
// event of the call and its rollup contribution is durably stored, or none is. The other
// methods are thread-safe and may run concurrently with append().
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Positions (in the span given to append) of events whose (tenant, id) another writer sharing
  // the log had already stored within the dedupe window; they were not stored again. A log with
  // one writer (the embedded store) never has any.
  using AlreadyStored = std::vector<std::size_t>;

  // Stores the events (already validated and deduplicated by this writer) and updates the
  // rollups. Returns only after the data is durable.
  virtual Result<AlreadyStored> append(std::span<const Event> events) = 0;
  // append() for a correction (ingest/ingestor.h), which is stored whole or not at all: when
  // another writer sharing the log stored part of it (not all), nothing is stored and the answer
  // is kConflict. A log with one writer never finds another's rows, so this is append().
  virtual Result<AlreadyStored> append_whole(std::span<const Event> events) { return append(events); }

  // Visits (tenant, id, received_at) of every stored event received at or after
  // `received_since` whose timestamp is at or after `timestamp_since`: what the dedupe index
  // must remember after a restart. With `after`, only the rows past it.
  virtual Status scan_recent_ids(Timestamp received_since, Timestamp timestamp_since, const RowCursor* after,
                                 const IdVisitor& visit) = 0;

  // Corrections (docs/corrections.md). The tenant's stored events with these ids, each with its
  // retraction when it has one; ids not stored are left out. A log that cannot look events up
  // by id yet says so (kUnimplemented).
  struct Found {
    Event event;
    std::optional<Event> retraction;
  };
  virtual Result<std::vector<Found>> find_events(std::string_view /*tenant_id*/,
                                                 std::span<const std::string> /*ids*/) {
    return fail(Error::unimplemented("corrections are not supported on this store yet"));
  }
  // The tenant's live events (neither retractions nor cancelled) of one type with timestamps in
  // [from, to), oldest first, at most `limit`: what replacing that range withdraws.
  virtual Result<std::vector<Event>> live_events(std::string_view /*tenant_id*/,
                                                 std::string_view /*event_type*/, Timestamp /*from*/,
                                                 Timestamp /*to*/, std::size_t /*limit*/) {
    return fail(Error::unimplemented("corrections are not supported on this store yet"));
  }
  // The tenant's retractions received in [from, to), newest first, at most `limit`.
  virtual Result<std::vector<Event>> retractions(std::string_view /*tenant_id*/, Timestamp /*from*/,
                                                 Timestamp /*to*/, std::size_t /*limit*/) {
    return fail(Error::unimplemented("corrections are not supported on this store yet"));
  }

  // Where the raw events end now, and how many lie past a cursor read earlier.
  virtual Result<RowCursor> row_cursor() = 0;
  virtual Result<std::int64_t> rows_after(const RowCursor& cursor) = 0;

  // What the live quota counters are rebuilt from at start, from `since` (a quarter hour) on:
  // for event types that `summable` accepts, one (tenant, type, sum, quarter start) per quarter
  // hour from the rollups, exact because every zone's day begins on a quarter hour; for the
  // other types (gauges, whose counters keep maxima) every stored event.
  virtual Status scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) = 0;

  // A shared log (several writers store into it, each deciding hard quotas) locks the tenants'
  // stored usage against the other writers until the next append() ends, committed or not; a
  // writer then reads it with locked_usage() and decides on exact figures. `tenants` sorted, so
  // writers cannot deadlock. A log with one writer has nothing to lock, and locked_usage() nullopt.
  virtual Status lock_tenants(std::span<const std::string> /*tenants*/) { return {}; }
  // Releases those locks without storing anything (a group that failed before its append()).
  virtual void unlock_tenants() {}
  // True once after an append() that failed only because another writer had stored some of
  // its events after the group's admission looked: the same group admitted again succeeds.
  virtual bool take_redo() { return false; }
  // What the tenant stored in the window, by every writer: exact under that lock, and read in
  // the same transaction (begun here if need be) for tenants not locked.
  virtual Result<std::optional<Decimal>> locked_usage(std::string_view /*tenant*/,
                                                      const UsageWindow& /*window*/) {
    return std::optional<Decimal>();
  }
};

}  // namespace meter::store

// SqliteStore's reconciliation and retention (store.h: check_rollups, months, drop_month).
#include <fmt/format.h>

#include <map>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
Result<std::vector<RollupCheck>> SqliteStore::check_rollups(int month, std::string_view tenant_id) {
  return sqlite_call("sqlite reconciliation", [&]() -> Result<std::vector<RollupCheck>> {
    auto reader = borrow_connection();
    std::map<std::pair<std::string, std::string>, RollupCheck> checks;
    auto collect = [&](const std::string& sql, RollupSum RollupCheck::*side) -> Status {
      SQLite::Statement stmt(*reader, sql);
      stmt.bind(1, std::string(tenant_id));
      while (stmt.executeStep()) {
        auto q = stored_decimal(stmt.getColumn(2).getString(), "the events being reconciled");
        if (!q) return fail(q.error());
        std::string tenant = stmt.getColumn(0).getString();
        std::string type = stmt.getColumn(1).getString();
        auto& c = checks[{tenant, type}];
        c.tenant_id = tenant;
        c.event_type = type;
        c.*side = {*q, stmt.getColumn(3).getInt64()};
      }
      return {};
    };
    const char* tenant_filter = "(?1 = '' OR tenant_id = ?1)";
    auto parts = partitions();
    if (std::find(parts.begin(), parts.end(), month) != parts.end()) {
      auto s = collect(fmt::format("SELECT tenant_id, event_type, meter_dec_sum(quantity), {} FROM "
                                   "usage_events_{} WHERE {} GROUP BY tenant_id, event_type",
                                   kSignedCount, month, tenant_filter),
                       &RollupCheck::raw);
      if (!s) return fail(s.error());
      SQLite::Statement corrected(
          *reader, fmt::format("SELECT tenant_id, event_type, count(*) FROM usage_events_{} "
                               "WHERE cancels IS NOT NULL AND {} GROUP BY tenant_id, event_type",
                               month, tenant_filter));
      corrected.bind(1, std::string(tenant_id));
      while (corrected.executeStep())
        checks[{corrected.getColumn(0).getString(), corrected.getColumn(1).getString()}].corrections =
            corrected.getColumn(2).getInt64();
    }
    std::int64_t from = to_unix_ms(month_start(month));
    std::int64_t to = to_unix_ms(next_window(Window::kMonth, month_start(month)));
    // The "hourly" side is the quarter hours, which hourly usage is summed from.
    for (auto [table, side] : {std::pair{"usage_quarter_hour", &RollupCheck::hourly},
                               std::pair{"usage_daily", &RollupCheck::daily}}) {
      auto s = collect(
          fmt::format("SELECT tenant_id, event_type, meter_dec_sum(quantity), sum(events) FROM {} "
                      "WHERE {} AND bucket_start >= {} AND bucket_start < {} GROUP BY tenant_id, event_type",
                      table, tenant_filter, from, to),
          side);
      if (!s) return fail(s.error());
    }
    std::vector<RollupCheck> out;
    for (auto& [key, c] : checks) out.push_back(std::move(c));
    return out;
  });
}

Result<std::vector<int>> SqliteStore::months() {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<int>> { return partitions(); });
}

Status SqliteStore::drop_month(int month) {
  MutexLock writes(write_mutex_);
  try {
    SQLite::Transaction tx(*writer_, SQLite::TransactionBehavior::IMMEDIATE);
    inserts_.erase(month);
    months_.erase(month);
    writer_->exec(fmt::format("DROP TABLE IF EXISTS usage_events_{}", month));
    writer_->exec(fmt::format("DELETE FROM usage_partitions WHERE month = {}", month));
    writer_->exec(fmt::format("DELETE FROM ship_state WHERE month = {}", month));
    writer_->exec(fmt::format("DELETE FROM retractions WHERE month = {}", month));
    std::int64_t from = to_unix_ms(month_start(month));
    std::int64_t to = to_unix_ms(next_window(Window::kMonth, month_start(month)));
    for (const char* table : {"usage_quarter_hour", "usage_daily"}) {
      writer_->exec(
          fmt::format("DELETE FROM {} WHERE bucket_start >= {} AND bucket_start < {}", table, from, to));
    }
    rebuild_events_view();
    tx.commit();
    return {};
  } catch (const std::exception& ex) {
    months_.clear();
    inserts_.clear();
    return fail(Error::unavailable(std::string("sqlite retention failed: ") + ex.what()));
  }
}

}  // namespace meter::store::sqlite

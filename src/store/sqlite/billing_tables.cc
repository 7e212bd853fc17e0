// SqliteStore's billing side (store.h): raw totals for invoices, tenants' plans, finalized
// invoices.
#include <fmt/format.h>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

FinalizedInvoice read_invoice(SQLite::Statement& stmt) {
  return {stmt.getColumn(0).getString(), stmt.getColumn(1).getInt(), stmt.getColumn(2).getString(),
          stmt.getColumn(3).getString(), from_unix_ms(stmt.getColumn(4).getInt64())};
}

}  // namespace

Result<std::vector<UsageRow>> SqliteStore::raw_totals(std::string_view tenant_id, Timestamp from,
                                                      Timestamp to) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<UsageRow>> {
    auto reader = borrow_connection();
    std::map<std::string, UsageRow> totals;
    for (int month : partitions()) {
      if (month < month_key(from) || month > month_key(to)) continue;
      SQLite::Statement stmt(*reader,
                             fmt::format("SELECT event_type, meter_dec_sum(quantity), count(*) FROM "
                                         "usage_events_{} WHERE tenant_id = ? AND ts >= ? AND ts < ? "
                                         "GROUP BY event_type",
                                         month));
      stmt.bind(1, std::string(tenant_id));
      stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(from)));
      stmt.bind(3, static_cast<std::int64_t>(to_unix_ms(to)));
      while (stmt.executeStep()) {
        auto q = stored_decimal(stmt.getColumn(1).getString(), fmt::format("usage_events_{}", month));
        if (!q) return fail(q.error());
        auto [it, inserted] = totals.try_emplace(stmt.getColumn(0).getString(),
                                                 UsageRow{from, stmt.getColumn(0).getString(), {}, 0});
        auto sum = it->second.quantity.checked_add(*q);
        if (!sum) return fail(Error::invalid("quantity", "usage sum overflows"));
        it->second.quantity = *sum;
        it->second.events += stmt.getColumn(2).getInt64();
      }
    }
    std::vector<UsageRow> out;
    for (auto& [type, row] : totals) out.push_back(std::move(row));
    return out;
  });
}

Result<std::vector<std::string>> SqliteStore::tenants(Timestamp from, Timestamp to) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<std::string>> {
    auto db = borrow_connection();
    // Days overlapping [from, to): a zone's month starts mid-UTC-day.
    SQLite::Statement stmt(*db,
                           "SELECT DISTINCT tenant_id FROM usage_daily WHERE bucket_start >= ? "
                           "AND bucket_start < ? ORDER BY tenant_id");
    stmt.bind(1, static_cast<std::int64_t>(to_unix_ms(floor_to(Window::kDay, from))));
    stmt.bind(2, static_cast<std::int64_t>(to_unix_ms(to)));
    std::vector<std::string> out;
    while (stmt.executeStep()) out.push_back(stmt.getColumn(0).getString());
    return out;
  });
}

Status SqliteStore::put_tenant_plan(std::string_view tenant_id, std::string_view plan) {
  return sqlite_call("sqlite write", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db, "INSERT OR REPLACE INTO tenant_plans VALUES (?, ?, ?)");
    stmt.bind(1, std::string(tenant_id));
    stmt.bind(2, std::string(plan));
    stmt.bind(3, static_cast<std::int64_t>(now_ms()));
    stmt.exec();
    return {};
  });
}

Result<std::optional<std::string>> SqliteStore::tenant_plan(std::string_view tenant_id) {
  return sqlite_call("sqlite query", [&]() -> Result<std::optional<std::string>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db, "SELECT plan FROM tenant_plans WHERE tenant_id = ?");
    stmt.bind(1, std::string(tenant_id));
    if (!stmt.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(stmt.getColumn(0).getString());
  });
}

Status SqliteStore::put_finalized_invoice(const FinalizedInvoice& invoice) {
  return sqlite_call("sqlite write", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db, "INSERT OR IGNORE INTO invoices VALUES (?, ?, ?, ?, ?)");
    stmt.bind(1, invoice.tenant_id);
    stmt.bind(2, invoice.month);
    stmt.bind(3, invoice.json);
    stmt.bind(4, invoice.csv);
    stmt.bind(5, static_cast<std::int64_t>(to_unix_ms(invoice.finalized_at)));
    if (stmt.exec() == 0) {
      return fail(Error{ErrorCode::kConflict,
                        fmt::format("the invoice of {} for {}-{:02} is already finalized", invoice.tenant_id,
                                    invoice.month / 100, invoice.month % 100),
                        "month"});
    }
    return {};
  });
}

Result<std::optional<FinalizedInvoice>> SqliteStore::finalized_invoice(std::string_view tenant_id,
                                                                       int month) {
  return sqlite_call("sqlite query", [&]() -> Result<std::optional<FinalizedInvoice>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db,
                           "SELECT tenant_id, month, json, csv, finalized_at FROM invoices "
                           "WHERE tenant_id = ? AND month = ?");
    stmt.bind(1, std::string(tenant_id));
    stmt.bind(2, month);
    if (!stmt.executeStep()) return std::optional<FinalizedInvoice>();
    return std::optional<FinalizedInvoice>(read_invoice(stmt));
  });
}

Result<std::vector<FinalizedInvoice>> SqliteStore::finalized_invoices(int month) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<FinalizedInvoice>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db,
                           "SELECT tenant_id, month, json, csv, finalized_at FROM invoices WHERE month = ? "
                           "ORDER BY tenant_id");
    stmt.bind(1, month);
    std::vector<FinalizedInvoice> out;
    while (stmt.executeStep()) out.push_back(read_invoice(stmt));
    return out;
  });
}

}  // namespace meter::store::sqlite

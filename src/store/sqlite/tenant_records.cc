// SqliteStore's tenant records (store/tenant_records.h): settings, finalized invoices and quota
// alerts. Any pooled connection may write them; WAL serialises those writes with the writer's.
#include <fmt/format.h>

#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

constexpr const char* kSettingsColumns =
    "plan, quota_set, time_zone, enforcement, queries_per_day, queries_per_month, tokens_per_day, "
    "tokens_per_month, storage_gb, storage_gb_per_month";

void bind_optional(SQLite::Statement& stmt, int index, const std::optional<Decimal>& value) {
  if (value)
    stmt.bind(index, value->to_string());
  else
    stmt.bind(index);
}

// Settings from a row whose columns from `first` on are kSettingsColumns.
Result<TenantSettings> read_settings(SQLite::Statement& stmt, int first) {
  TenantSettings s;
  if (!stmt.getColumn(first).isNull()) s.plan = stmt.getColumn(first).getString();
  if (stmt.getColumn(first + 1).getInt() == 0) return s;
  quota::TenantQuota& q = s.quota.emplace();
  q.time_zone = stmt.getColumn(first + 2).getString();
  auto enforcement = quota::parse_enforcement(stmt.getColumn(first + 3).getString());
  if (!enforcement) {
    return fail(Error::internal(
        fmt::format("corrupt enforcement '{}' in tenant_settings", stmt.getColumn(first + 3).getString())));
  }
  q.enforcement = *enforcement;
  int column = first + 4;
  for (quota::Meter meter : quota::kMeters) {
    for (auto* limit : {&q[meter].per_day, &q[meter].per_month}) {
      const SQLite::Column value = stmt.getColumn(column++);
      if (value.isNull()) continue;
      auto d = stored_decimal(value.getString(), "tenant_settings");
      if (!d) return fail(d.error());
      *limit = *d;
    }
  }
  return s;
}

void write_settings(SQLite::Database& db, std::string_view tenant_id, const TenantSettings& s,
                    std::int64_t now_ms) {
  SQLite::Statement stmt(db, fmt::format("INSERT OR REPLACE INTO tenant_settings (tenant_id, {}, updated_at) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                         kSettingsColumns));
  stmt.bind(1, std::string(tenant_id));
  if (s.plan)
    stmt.bind(2, *s.plan);
  else
    stmt.bind(2);
  stmt.bind(3, s.quota ? 1 : 0);
  const quota::TenantQuota q = s.quota.value_or(quota::TenantQuota{});
  stmt.bind(4, q.time_zone);
  stmt.bind(5, std::string(quota::enforcement_name(q.enforcement)));
  int column = 6;
  for (quota::Meter meter : quota::kMeters) {
    bind_optional(stmt, column++, q[meter].per_day);
    bind_optional(stmt, column++, q[meter].per_month);
  }
  stmt.bind(column, now_ms);
  stmt.exec();
}

FinalizedInvoice read_invoice(SQLite::Statement& stmt) {
  return {stmt.getColumn(0).getString(), stmt.getColumn(1).getInt(), stmt.getColumn(2).getString(),
          stmt.getColumn(3).getString(), from_unix_ms(stmt.getColumn(4).getInt64())};
}

}  // namespace

Result<TenantSettings> SqliteStore::update_settings(std::string_view tenant_id,
                                                    const SettingsChange& change) {
  return sqlite_call("sqlite write", [&]() -> Result<TenantSettings> {
    auto db = borrow_connection();
    // IMMEDIATE: the write lock is taken before the read, so no other change slips in between.
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement read(
        *db, fmt::format("SELECT {} FROM tenant_settings WHERE tenant_id = ?", kSettingsColumns));
    read.bind(1, std::string(tenant_id));
    TenantSettings settings;
    if (read.executeStep()) {
      auto stored = read_settings(read, 0);
      if (!stored) return fail(stored.error());
      settings = std::move(*stored);
    }
    read.reset();
    if (auto s = change(settings); !s) return fail(s.error());
    write_settings(*db, tenant_id, settings, now_ms());
    tx.commit();
    return settings;
  });
}

Result<std::optional<TenantSettings>> SqliteStore::settings(std::string_view tenant_id) {
  return sqlite_call("sqlite query", [&]() -> Result<std::optional<TenantSettings>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(
        *db, fmt::format("SELECT {} FROM tenant_settings WHERE tenant_id = ?", kSettingsColumns));
    stmt.bind(1, std::string(tenant_id));
    if (!stmt.executeStep()) return std::optional<TenantSettings>();
    auto s = read_settings(stmt, 0);
    if (!s) return fail(s.error());
    return std::optional<TenantSettings>(std::move(*s));
  });
}

Result<std::vector<std::pair<std::string, TenantSettings>>> SqliteStore::list_settings() {
  using Listed = std::vector<std::pair<std::string, TenantSettings>>;
  return sqlite_call("sqlite query", [&]() -> Result<Listed> {
    auto db = borrow_connection();
    SQLite::Statement stmt(
        *db, fmt::format("SELECT tenant_id, {} FROM tenant_settings ORDER BY tenant_id", kSettingsColumns));
    Listed out;
    while (stmt.executeStep()) {
      auto s = read_settings(stmt, 1);
      if (!s) return fail(s.error());
      out.emplace_back(stmt.getColumn(0).getString(), std::move(*s));
    }
    return out;
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

namespace {

AdjustmentNote read_adjustment(SQLite::Statement& row) {
  return {row.getColumn(0).getString(),
          row.getColumn(1).getInt(),
          row.getColumn(2).getInt(),
          row.getColumn(3).getString(),
          row.getColumn(4).getString(),
          row.getColumn(5).getString(),
          from_unix_ms(row.getColumn(6).getInt64()),
          row.getColumn(7).getString(),
          row.getColumn(8).getInt()};
}

}  // namespace

Status SqliteStore::put_adjustment(const AdjustmentNote& note) {
  return sqlite_call("sqlite write", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db, "INSERT OR IGNORE INTO adjustments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    stmt.bind(1, note.tenant_id);
    stmt.bind(2, note.month);
    stmt.bind(3, note.sequence);
    stmt.bind(4, note.number);
    stmt.bind(5, note.json);
    stmt.bind(6, note.csv);
    stmt.bind(7, static_cast<std::int64_t>(to_unix_ms(note.issued_at)));
    stmt.bind(8, note.total_change);
    stmt.bind(9, note.carried_to);
    if (stmt.exec() == 0) {
      return fail(Error{ErrorCode::kConflict,
                        fmt::format("adjustment {} of {} for {}-{:02} was issued already", note.sequence,
                                    note.tenant_id, note.month / 100, note.month % 100),
                        "month"});
    }
    return {};
  });
}

Result<std::vector<AdjustmentNote>> SqliteStore::adjustments(std::string_view tenant_id, int month) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<AdjustmentNote>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(*db,
                           "SELECT * FROM adjustments WHERE tenant_id = ? AND month = ? ORDER BY sequence");
    stmt.bind(1, std::string(tenant_id));
    stmt.bind(2, month);
    std::vector<AdjustmentNote> out;
    while (stmt.executeStep()) out.push_back(read_adjustment(stmt));
    return out;
  });
}

Result<std::vector<AdjustmentNote>> SqliteStore::adjustments_carried_to(std::string_view tenant_id,
                                                                        int month) {
  return sqlite_call("sqlite query", [&]() -> Result<std::vector<AdjustmentNote>> {
    auto db = borrow_connection();
    SQLite::Statement stmt(
        *db, "SELECT * FROM adjustments WHERE tenant_id = ? AND carried_to = ? ORDER BY month, sequence");
    stmt.bind(1, std::string(tenant_id));
    stmt.bind(2, month);
    std::vector<AdjustmentNote> out;
    while (stmt.executeStep()) out.push_back(read_adjustment(stmt));
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

}  // namespace meter::store::sqlite

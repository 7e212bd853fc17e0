// PgStore's tenant records: settings (changed under a row lock, so changes from several nodes
// apply one after the other), finalized invoices and quota alerts.
#include <fmt/format.h>

#include "store/postgres/pg_store.h"

namespace meter::store::postgres {
namespace {

constexpr const char* kSettingsColumns =
    "plan, quota_set, time_zone, enforcement, queries_per_day, queries_per_month, tokens_per_day, "
    "tokens_per_month, storage_gb, storage_gb_per_month";

Param optional_decimal(const std::optional<Decimal>& d) { return d ? Param(d->to_string()) : std::nullopt; }

// Settings from a row whose columns from `first` on are kSettingsColumns.
Result<TenantSettings> read_settings(const Rows& rows, int r, int first) {
  TenantSettings s;
  if (!rows.null(r, first)) s.plan = rows.str(r, first);
  if (rows.text(r, first + 1) != "t") return s;
  quota::TenantQuota& q = s.quota.emplace();
  q.time_zone = rows.str(r, first + 2);
  auto enforcement = quota::parse_enforcement(rows.text(r, first + 3));
  if (!enforcement) {
    return fail(
        Error::internal(fmt::format("corrupt enforcement '{}' in tenant_settings", rows.text(r, first + 3))));
  }
  q.enforcement = *enforcement;
  int column = first + 4;
  for (quota::Meter meter : quota::kMeters) {
    for (auto* limit : {&q[meter].per_day, &q[meter].per_month}) {
      int c = column++;
      if (rows.null(r, c)) continue;
      auto d = rows.decimal(r, c, "a quota limit");
      if (!d) return fail(d.error());
      *limit = *d;
    }
  }
  return s;
}

FinalizedInvoice read_invoice(const Rows& rows, int r) {
  return {rows.str(r, 0), static_cast<int>(rows.int64(r, 1)), rows.str(r, 2), rows.str(r, 3),
          from_unix_ms(rows.int64(r, 4))};
}

}  // namespace

Result<TenantSettings> PgStore::update_settings(std::string_view tenant_id, const SettingsChange& change) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  return in_transaction(**db, [&](Connection& tx) -> Result<TenantSettings> {
    // The row exists (perhaps empty) and is locked until commit: changes from any node queue.
    Param id[] = {std::string(tenant_id)};
    if (auto s = tx.query("INSERT INTO tenant_settings (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", id);
        !s)
      return fail(s.error());
    auto rows = tx.query(
        fmt::format("SELECT {} FROM tenant_settings WHERE tenant_id = $1 FOR UPDATE", kSettingsColumns), id);
    if (!rows) return fail(rows.error());
    auto settings = read_settings(*rows, 0, 0);
    if (!settings) return fail(settings.error());
    if (auto s = change(*settings); !s) return fail(s.error());
    const quota::TenantQuota q = settings->quota.value_or(quota::TenantQuota{});
    std::vector<Param> params = {std::string(tenant_id), settings->plan, settings->quota ? "t" : "f",
                                 q.time_zone, std::string(quota::enforcement_name(q.enforcement))};
    for (quota::Meter meter : quota::kMeters) {
      params.push_back(optional_decimal(q[meter].per_day));
      params.push_back(optional_decimal(q[meter].per_month));
    }
    params.push_back(std::to_string(now_ms()));
    // Taken last (after the tenant's row), so changes to different tenants never deadlock.
    auto version =
        tx.exec("UPDATE meter_changes SET version = version + 1 WHERE kind = 'settings' RETURNING version");
    if (!version) return fail(version.error());
    params.push_back(version->str(0, 0));
    auto written = tx.query(
        "UPDATE tenant_settings SET plan = $2, quota_set = $3, time_zone = $4, enforcement = $5, "
        "queries_per_day = $6, queries_per_month = $7, tokens_per_day = $8, tokens_per_month = $9, "
        "storage_gb = $10, storage_gb_per_month = $11, updated_at = $12, version = $13 WHERE tenant_id = $1",
        params);
    if (!written) return fail(written.error());
    return *settings;
  });
}

Result<SettingsChanges> PgStore::settings_changed_since(std::int64_t seen) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  // One statement, one snapshot: every change up to the counter it reads is in the rows.
  Param params[] = {std::to_string(seen)};
  auto rows = (*db)->query(fmt::format("SELECT c.version, t.tenant_id, {} FROM meter_changes c LEFT JOIN "
                                       "tenant_settings t ON t.version > $1 WHERE c.kind = 'settings'",
                                       kSettingsColumns),
                           params);
  if (!rows) return fail(rows.error());
  SettingsChanges out;
  for (int r = 0; r < rows->size(); ++r) {
    out.version = rows->int64(r, 0);
    if (rows->null(r, 1)) continue;
    auto s = read_settings(*rows, r, 2);
    if (!s) return fail(s.error());
    out.changed.emplace_back(rows->str(r, 1), std::move(*s));
  }
  return out;
}

Result<std::optional<TenantSettings>> PgStore::settings(std::string_view tenant_id) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param id[] = {std::string(tenant_id)};
  auto rows =
      (*db)->query(fmt::format("SELECT {} FROM tenant_settings WHERE tenant_id = $1", kSettingsColumns), id);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::optional<TenantSettings>();
  auto s = read_settings(*rows, 0, 0);
  if (!s) return fail(s.error());
  return std::optional<TenantSettings>(std::move(*s));
}

Result<std::vector<std::pair<std::string, TenantSettings>>> PgStore::list_settings() {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto rows = (*db)->exec(
      fmt::format("SELECT tenant_id, {} FROM tenant_settings ORDER BY tenant_id", kSettingsColumns));
  if (!rows) return fail(rows.error());
  std::vector<std::pair<std::string, TenantSettings>> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto s = read_settings(*rows, r, 1);
    if (!s) return fail(s.error());
    out.emplace_back(rows->str(r, 0), std::move(*s));
  }
  return out;
}

Status PgStore::put_finalized_invoice(const FinalizedInvoice& invoice) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {invoice.tenant_id, std::to_string(invoice.month), invoice.json, invoice.csv,
                    std::to_string(to_unix_ms(invoice.finalized_at))};
  auto rows = (*db)->query(
      "INSERT INTO invoices VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1", params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) {
    return fail(Error{ErrorCode::kConflict,
                      fmt::format("the invoice of {} for {}-{:02} is already finalized", invoice.tenant_id,
                                  invoice.month / 100, invoice.month % 100),
                      "month"});
  }
  return {};
}

Result<std::optional<FinalizedInvoice>> PgStore::finalized_invoice(std::string_view tenant_id, int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(month)};
  auto rows = (*db)->query(
      "SELECT tenant_id, month, json, csv, finalized_at FROM invoices WHERE tenant_id = $1 AND month = $2",
      params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::optional<FinalizedInvoice>();
  return std::optional<FinalizedInvoice>(read_invoice(*rows, 0));
}

namespace {

Result<std::vector<AdjustmentNote>> notes_of(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  std::vector<AdjustmentNote> out;
  for (int r = 0; r < rows->size(); ++r) {
    out.push_back({rows->str(r, 0), static_cast<int>(rows->int64(r, 1)), static_cast<int>(rows->int64(r, 2)),
                   rows->str(r, 3), rows->str(r, 4), rows->str(r, 5), from_unix_ms(rows->int64(r, 6)),
                   rows->str(r, 7), static_cast<int>(rows->int64(r, 8))});
  }
  return out;
}

}  // namespace

Status PgStore::put_adjustment(const AdjustmentNote& note) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {note.tenant_id,
                    std::to_string(note.month),
                    std::to_string(note.sequence),
                    note.number,
                    note.json,
                    note.csv,
                    std::to_string(to_unix_ms(note.issued_at)),
                    note.total_change,
                    std::to_string(note.carried_to)};
  auto rows = (*db)->query(
      "INSERT INTO adjustments VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING "
      "1",
      params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) {
    return fail(Error{ErrorCode::kConflict,
                      fmt::format("adjustment {} of {} for {}-{:02} was issued already", note.sequence,
                                  note.tenant_id, note.month / 100, note.month % 100),
                      "month"});
  }
  return {};
}

Result<std::vector<AdjustmentNote>> PgStore::adjustments(std::string_view tenant_id, int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(month)};
  return notes_of((*db)->query(
      "SELECT * FROM adjustments WHERE tenant_id = $1 AND month = $2 ORDER BY sequence", params));
}

Result<std::vector<AdjustmentNote>> PgStore::adjustments_carried_to(std::string_view tenant_id, int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(month)};
  return notes_of((*db)->query(
      "SELECT * FROM adjustments WHERE tenant_id = $1 AND carried_to = $2 ORDER BY month, sequence", params));
}

Result<std::vector<FinalizedInvoice>> PgStore::finalized_invoices(int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::to_string(month)};
  auto rows = (*db)->query(
      "SELECT tenant_id, month, json, csv, finalized_at FROM invoices WHERE month = $1 ORDER BY tenant_id",
      params);
  if (!rows) return fail(rows.error());
  std::vector<FinalizedInvoice> out;
  for (int r = 0; r < rows->size(); ++r) out.push_back(read_invoice(*rows, r));
  return out;
}

Result<std::optional<std::int64_t>> PgStore::record_alert(const quota::Alert& a) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {a.tenant_id,
                    std::string(quota::meter_name(a.meter)),
                    a.period == quota::Period::kDay ? "day" : "month",
                    std::to_string(to_unix_ms(a.period_start)),
                    std::to_string(a.threshold_percent),
                    a.used.to_string(),
                    a.limit.to_string(),
                    std::to_string(to_unix_ms(a.fired_at))};
  auto rows = (*db)->query(
      "INSERT INTO quota_alerts (tenant_id, meter, period, period_start, threshold, used, quota_limit, "
      "fired_at, "
      "delivery, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0) ON CONFLICT DO NOTHING "
      "RETURNING id",
      params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(rows->int64(0, 0));
}

Status PgStore::update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(delivery), std::to_string(attempts), std::to_string(id)};
  auto rows = (*db)->query("UPDATE quota_alerts SET delivery = $1, attempts = $2 WHERE id = $3", params);
  if (!rows) return fail(rows.error());
  return {};
}

Result<std::vector<AlertRecord>> PgStore::list_alerts(std::string_view tenant_id, std::size_t limit,
                                                      bool pending_only) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant_id), std::to_string(limit), pending_only ? "t" : "f"};
  auto rows = (*db)->query(
      "SELECT id, tenant_id, meter, period, period_start, threshold, used, quota_limit, fired_at, delivery, "
      "attempts FROM quota_alerts WHERE ($1 = '' OR tenant_id = $1) AND (NOT $3::boolean OR delivery = "
      "'pending') "
      "ORDER BY id DESC LIMIT $2",
      params);
  if (!rows) return fail(rows.error());
  std::vector<AlertRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    AlertRecord a;
    a.id = rows->int64(r, 0);
    a.alert.tenant_id = rows->str(r, 1);
    for (quota::Meter m : quota::kMeters) {
      if (quota::meter_name(m) == rows->text(r, 2)) a.alert.meter = m;
    }
    a.alert.period = rows->text(r, 3) == "month" ? quota::Period::kMonth : quota::Period::kDay;
    a.alert.period_start = from_unix_ms(rows->int64(r, 4));
    a.alert.threshold_percent = static_cast<int>(rows->int64(r, 5));
    auto used = rows->decimal(r, 6, "an alert's usage");
    auto quota_limit = rows->decimal(r, 7, "an alert's limit");
    if (!used) return fail(used.error());
    if (!quota_limit) return fail(quota_limit.error());
    a.alert.used = *used;
    a.alert.limit = *quota_limit;
    a.alert.fired_at = from_unix_ms(rows->int64(r, 8));
    a.delivery = rows->str(r, 9);
    a.attempts = static_cast<int>(rows->int64(r, 10));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace meter::store::postgres

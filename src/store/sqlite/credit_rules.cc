// SqliteStore's credit rules and notices (store/credit_ledger.h, docs/credits.md).
#include <fmt/format.h>

#include "store/sqlite/credit_rows.h"
#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {

std::optional<Timestamp> optional_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_unix_ms(c.getInt64());
}

bool insert_notice(SQLite::Database& db, const credits::Notice& n) {
  SQLite::Statement s(db, "INSERT OR IGNORE INTO credit_notices VALUES (?, ?, ?, ?, ?, ?, 'pending', 0)");
  s.bind(1, n.id);
  s.bind(2, n.tenant_id);
  s.bind(3, n.type);
  s.bind(4, n.ref);
  s.bind(5, to_unix_ms(n.at));
  s.bind(6, n.body);
  return s.exec() > 0;
}

namespace {

constexpr const char* kRuleColumns =
    "rule_id, tenant_id, kind, threshold, amount, category, priority, scope, expires_after, starts, "
    "rollover_max, rollover_priority, rollover_expires_after, created_at, idempotency_key, request_hash";

Result<credits::Rule> read_rule(SQLite::Statement& s) {
  credits::Rule r;
  r.id = s.getColumn(0).getString();
  r.tenant_id = s.getColumn(1).getString();
  auto kind = credits::parse_rule_kind(s.getColumn(2).getString());
  auto category = credits::parse_category(s.getColumn(5).getString());
  if (!kind || !category) return fail(Error::internal("corrupt rule in credit_rules"));
  r.kind = *kind;
  r.category = *category;
  for (auto [column, into] : {std::pair{3, &r.threshold}, std::pair{4, &r.amount}}) {
    auto d = stored_decimal(s.getColumn(column).getString(), "credit_rules");
    if (!d) return fail(d.error());
    *into = *d;
  }
  r.priority = s.getColumn(6).getInt();
  r.scope = credits::split_scope(s.getColumn(7).getString());
  r.expires_after = s.getColumn(8).getString();
  r.starts = s.getColumn(9).getInt();
  if (!s.getColumn(10).isNull()) {
    auto d = stored_decimal(s.getColumn(10).getString(), "credit_rules");
    if (!d) return fail(d.error());
    r.rollover_max = *d;
  }
  r.rollover_priority = s.getColumn(11).getInt();
  r.rollover_expires_after = s.getColumn(12).getString();
  r.created_at = from_unix_ms(s.getColumn(13).getInt64());
  r.idempotency_key = s.getColumn(14).getString();
  r.request_hash = s.getColumn(15).getString();
  return r;
}

}  // namespace

const char* SqliteStore::credit_rules_schema() {
  return R"sql(
-- Credit rules (v10): low-balance notices, top-ups, recurring grants with rollover.
CREATE TABLE IF NOT EXISTS credit_rules (
  rule_id                TEXT    PRIMARY KEY,
  tenant_id              TEXT    NOT NULL,
  kind                   TEXT    NOT NULL,  -- low_balance, top_up, recurring
  threshold              TEXT    NOT NULL,
  amount                 TEXT    NOT NULL,
  category               TEXT    NOT NULL,
  priority               INTEGER NOT NULL,
  scope                  TEXT    NOT NULL,
  expires_after          TEXT    NOT NULL,
  starts                 INTEGER NOT NULL,  -- recurring: first local month, YYYYMM
  rollover_max           TEXT,
  rollover_priority      INTEGER NOT NULL,
  rollover_expires_after TEXT    NOT NULL,
  created_at             INTEGER NOT NULL,
  deleted_at             INTEGER,
  idempotency_key        TEXT    NOT NULL,  -- '' when the request sent none
  request_hash           TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS credit_rules_by_key ON credit_rules (tenant_id, idempotency_key)
  WHERE idempotency_key != '';
-- Credit notices for the webhook, each once per (tenant, type, ref).
CREATE TABLE IF NOT EXISTS credit_notices (
  notice_id TEXT    PRIMARY KEY,
  tenant_id TEXT    NOT NULL,
  type      TEXT    NOT NULL,
  ref       TEXT    NOT NULL,
  fired_at  INTEGER NOT NULL,
  body      TEXT    NOT NULL,
  delivery  TEXT    NOT NULL,  -- pending, delivered, failed, no webhook
  attempts  INTEGER NOT NULL,
  UNIQUE (tenant_id, type, ref)
);
CREATE INDEX IF NOT EXISTS credit_notices_by_tenant ON credit_notices (tenant_id, fired_at);
-- For what a tenant's usage consumed over a span (its burn rate).
CREATE INDEX IF NOT EXISTS credit_txns_by_time ON credit_txns (tenant_id, at);
)sql";
}

Status SqliteStore::put_rule(const credits::Rule& r) {
  return sqlite_call("storing the credit rule", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement s(*db, fmt::format("INSERT INTO credit_rules ({}) VALUES "
                                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                         kRuleColumns));
    s.bind(1, r.id);
    s.bind(2, r.tenant_id);
    s.bind(3, std::string(credits::rule_kind_name(r.kind)));
    s.bind(4, r.threshold.to_string());
    s.bind(5, r.amount.to_string());
    s.bind(6, std::string(credits::category_name(r.category)));
    s.bind(7, r.priority);
    s.bind(8, credits::join_scope(r.scope));
    s.bind(9, r.expires_after);
    s.bind(10, r.starts);
    if (r.rollover_max)
      s.bind(11, r.rollover_max->to_string());
    else
      s.bind(11);
    s.bind(12, r.rollover_priority);
    s.bind(13, r.rollover_expires_after);
    s.bind(14, to_unix_ms(r.created_at));
    s.bind(15, r.idempotency_key);
    s.bind(16, r.request_hash);
    s.exec();
    return {};
  });
}

Result<bool> SqliteStore::delete_rule(std::string_view tenant, std::string_view id, Timestamp at) {
  return sqlite_call("deleting the credit rule", [&]() -> Result<bool> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db,
        "UPDATE credit_rules SET deleted_at = ? WHERE tenant_id = ? AND rule_id = ? AND deleted_at IS NULL");
    s.bind(1, to_unix_ms(at));
    s.bind(2, std::string(tenant));
    s.bind(3, std::string(id));
    return s.exec() > 0;
  });
}

Result<std::vector<credits::Rule>> SqliteStore::rules(std::string_view tenant) {
  return sqlite_call("reading the credit rules", [&]() -> Result<std::vector<credits::Rule>> {
    auto db = borrow_connection();
    SQLite::Statement s(*db, fmt::format("SELECT {} FROM credit_rules WHERE deleted_at IS NULL AND "
                                         "(? = '' OR tenant_id = ?) ORDER BY created_at, rule_id",
                                         kRuleColumns));
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(tenant));
    std::vector<credits::Rule> out;
    while (s.executeStep()) {
      auto r = read_rule(s);
      if (!r) return fail(r.error());
      out.push_back(std::move(*r));
    }
    return out;
  });
}

Result<std::optional<credits::Rule>> SqliteStore::rule_by_key(std::string_view tenant, std::string_view key) {
  return sqlite_call("reading the credit rule", [&]() -> Result<std::optional<credits::Rule>> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db,
        fmt::format("SELECT {} FROM credit_rules WHERE tenant_id = ? AND idempotency_key = ?", kRuleColumns));
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(key));
    if (!s.executeStep()) return std::optional<credits::Rule>();
    auto r = read_rule(s);
    if (!r) return fail(r.error());
    return std::optional<credits::Rule>(std::move(*r));
  });
}

Result<bool> SqliteStore::put_notice(const credits::Notice& notice) {
  return sqlite_call("recording the credit notice", [&]() -> Result<bool> {
    auto db = borrow_connection();
    return insert_notice(*db, notice);
  });
}

Status SqliteStore::update_notice_delivery(std::string_view id, std::string_view delivery, int attempts) {
  return sqlite_call("recording the notice's delivery", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement s(*db, "UPDATE credit_notices SET delivery = ?, attempts = ? WHERE notice_id = ?");
    s.bind(1, std::string(delivery));
    s.bind(2, attempts);
    s.bind(3, std::string(id));
    s.exec();
    return {};
  });
}

Result<std::vector<credits::NoticeRecord>> SqliteStore::notices(std::string_view tenant, std::size_t limit,
                                                                bool pending_only) {
  return sqlite_call("reading the credit notices", [&]() -> Result<std::vector<credits::NoticeRecord>> {
    auto db = borrow_connection();
    SQLite::Statement s(*db,
                        "SELECT notice_id, tenant_id, type, ref, fired_at, body, delivery, attempts "
                        "FROM credit_notices WHERE (? = '' OR tenant_id = ?) AND (? = 0 OR delivery = "
                        "'pending') ORDER BY fired_at DESC, rowid DESC LIMIT ?");
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(tenant));
    s.bind(3, pending_only ? 1 : 0);
    s.bind(4, static_cast<std::int64_t>(limit));
    std::vector<credits::NoticeRecord> out;
    while (s.executeStep()) {
      credits::NoticeRecord r;
      r.notice = {s.getColumn(0).getString(),
                  s.getColumn(1).getString(),
                  s.getColumn(2).getString(),
                  s.getColumn(3).getString(),
                  from_unix_ms(s.getColumn(4).getInt64()),
                  s.getColumn(5).getString()};
      r.delivery = s.getColumn(6).getString();
      r.attempts = s.getColumn(7).getInt();
      out.push_back(std::move(r));
    }
    return out;
  });
}

Result<Decimal> SqliteStore::consumed_between(std::string_view tenant, Timestamp from, Timestamp to) {
  return sqlite_call("reading the credit consumed", [&]() -> Result<Decimal> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db,
        "SELECT meter_dec_sum(e.amount) FROM credit_txns t JOIN credit_entries e ON e.txn = t.txn "
        "WHERE t.tenant_id = ? AND t.at >= ? AND t.at < ? AND t.kind IN ('burn', 'trueup', 'restore') "
        "AND e.account = 'credit'");
    s.bind(1, std::string(tenant));
    s.bind(2, to_unix_ms(from));
    s.bind(3, to_unix_ms(to));
    if (!s.executeStep() || s.getColumn(0).isNull()) return Decimal();
    auto sum = stored_decimal(s.getColumn(0).getString(), "credit_entries");
    if (!sum) return fail(sum.error());
    return Decimal::from_units(-sum->units());  // credit entries are negative when consumed
  });
}

}  // namespace meter::store::sqlite

// SqliteStore's credit ledger (store/credit_ledger.h, docs/credits.md): lots, enforcement, and
// the ledger's transactions, whose burns the event append writes in its own transaction.
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "store/sqlite/credit_rows.h"
#include "store/sqlite/sqlite_call.h"
#include "store/sqlite/sqlite_store.h"

namespace meter::store::sqlite {
namespace {

constexpr const char* kGrantColumns =
    "grant_id, tenant_id, seq, name, amount, category, priority, scope, effective_at, expires_at, "
    "created_at, voided_at, idempotency_key, request_hash, voided, rule_id, awaits_payment, rolled";
constexpr int kGrantColumnCount = 18;

Result<credits::LotRecord> read_lot(SQLite::Statement& s) {
  credits::LotRecord r;
  credits::Lot& l = r.lot;
  l.id = s.getColumn(0).getString();
  l.tenant_id = s.getColumn(1).getString();
  l.seq = s.getColumn(2).getInt64();
  l.name = s.getColumn(3).getString();
  auto amount = stored_decimal(s.getColumn(4).getString(), "credit_grants");
  if (!amount) return fail(amount.error());
  l.amount = *amount;
  auto category = credits::parse_category(s.getColumn(5).getString());
  if (!category) return fail(Error::internal("corrupt category in credit_grants"));
  l.category = *category;
  l.priority = s.getColumn(6).getInt();
  l.scope = credits::split_scope(s.getColumn(7).getString());
  l.effective_at = from_unix_ms(s.getColumn(8).getInt64());
  l.expires_at = optional_time(s.getColumn(9));
  l.created_at = from_unix_ms(s.getColumn(10).getInt64());
  l.voided_at = optional_time(s.getColumn(11));
  l.idempotency_key = s.getColumn(12).getString();
  l.request_hash = s.getColumn(13).getString();
  auto voided = stored_decimal(s.getColumn(14).getString(), "credit_grants");
  if (!voided) return fail(voided.error());
  r.voided = *voided;
  l.rule_id = s.getColumn(15).getString();
  l.awaits_payment = s.getColumn(16).getInt() != 0;
  auto rolled = stored_decimal(s.getColumn(17).getString(), "credit_grants");
  if (!rolled) return fail(rolled.error());
  r.rolled = *rolled;
  return r;
}

// Inserts one ledger transaction with its entries; returns its id (0: its ref was booked).
std::int64_t insert_transaction(SQLite::Database& db, std::string_view tenant, std::string_view kind,
                                std::int64_t at_ms, std::span<const credits::Entry> entries,
                                std::optional<std::string> ref = std::nullopt) {
  SQLite::Statement txn(db,
                        "INSERT OR IGNORE INTO credit_txns (tenant_id, kind, at, ref) VALUES (?, ?, ?, ?)");
  txn.bind(1, std::string(tenant));
  txn.bind(2, std::string(kind));
  txn.bind(3, at_ms);
  if (ref)
    txn.bind(4, *ref);
  else
    txn.bind(4);
  if (txn.exec() == 0) return 0;
  std::int64_t id = db.getLastInsertRowid();
  SQLite::Statement entry(db, "INSERT INTO credit_entries VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& e : entries) {
    entry.reset();
    entry.bind(1, id);
    entry.bind(2, std::string(credits::account_name(e.account)));
    entry.bind(3, e.grant_id);
    entry.bind(4, e.month);
    entry.bind(5, e.event_type);
    entry.bind(6, e.amount.to_string());
    entry.exec();
  }
  return id;
}

// Inserts a lot, giving it the next seq; false when its idempotency key was stored before.
bool insert_lot(SQLite::Database& db, credits::Lot& lot) {
  {
    SQLite::Statement clash(db, "SELECT 1 FROM credit_grants WHERE tenant_id = ? AND idempotency_key = ?");
    clash.bind(1, lot.tenant_id);
    clash.bind(2, lot.idempotency_key);
    if (clash.executeStep()) return false;
  }
  lot.seq =
      std::max(lot.seq, db.execAndGet("SELECT coalesce(max(seq), 0) + 1 FROM credit_grants").getInt64());
  SQLite::Statement insert(db, fmt::format("INSERT INTO credit_grants ({}) VALUES "
                                           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, '0', ?, ?, '0')",
                                           kGrantColumns));
  insert.bind(1, lot.id);
  insert.bind(2, lot.tenant_id);
  insert.bind(3, lot.seq);
  insert.bind(4, lot.name);
  insert.bind(5, lot.amount.to_string());
  insert.bind(6, std::string(credits::category_name(lot.category)));
  insert.bind(7, lot.priority);
  insert.bind(8, credits::join_scope(lot.scope));
  insert.bind(9, to_unix_ms(lot.effective_at));
  if (lot.expires_at)
    insert.bind(10, to_unix_ms(*lot.expires_at));
  else
    insert.bind(10);
  insert.bind(11, to_unix_ms(lot.created_at));
  insert.bind(12, lot.idempotency_key);
  insert.bind(13, lot.request_hash);
  insert.bind(14, lot.rule_id);
  insert.bind(15, lot.awaits_payment ? 1 : 0);
  insert.exec();
  return true;
}

// The lot's credit comes from its funding (paid or promotional).
void insert_grant_transaction(SQLite::Database& db, const credits::Lot& lot, Timestamp at) {
  Decimal minus = Decimal::from_units(-lot.amount.units());
  credits::Entry entries[] = {{lot.tenant_id, credits::Account::kFunding, lot.id, 0,
                               std::string(credits::category_name(lot.category)), minus},
                              {lot.tenant_id, credits::Account::kCredit, lot.id, 0, "", lot.amount}};
  insert_transaction(db, lot.tenant_id, "grant", to_unix_ms(at), entries);
}

// Adds a usage entry to its line's projection.
constexpr const char* kUpsertCreditLine =
    "INSERT INTO credit_lines VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET amount = "
    "meter_dec_add(amount, excluded.amount)";

// Adds the usage entries to their lines' projection (kUpsertCreditLine).
void project_usage(SQLite::Statement& up, std::span<const credits::Entry> entries) {
  for (const auto& e : entries) {
    if (e.account != credits::Account::kUsage) continue;
    up.reset();
    up.bind(1, e.tenant_id);
    up.bind(2, e.month);
    up.bind(3, e.event_type);
    up.bind(4, e.grant_id);
    up.bind(5, e.amount.to_string());
    up.exec();
  }
}

}  // namespace

const char* SqliteStore::credit_schema() {
  return R"sql(
-- Prepaid credit (v9, docs/credits.md). Lots, as granted; voided is what a void took out.
CREATE TABLE IF NOT EXISTS credit_grants (
  grant_id        TEXT    PRIMARY KEY,
  tenant_id       TEXT    NOT NULL,
  seq             INTEGER NOT NULL UNIQUE,
  name            TEXT    NOT NULL,
  amount          TEXT    NOT NULL,
  category        TEXT    NOT NULL,  -- paid or promotional
  priority        INTEGER NOT NULL,
  scope           TEXT    NOT NULL,  -- event types, sorted, comma-separated; '' = every priced meter
  effective_at    INTEGER NOT NULL,
  expires_at      INTEGER,
  created_at      INTEGER NOT NULL,
  voided_at       INTEGER,
  idempotency_key TEXT    NOT NULL,
  request_hash    TEXT    NOT NULL,
  voided          TEXT    NOT NULL,
  rule_id         TEXT    NOT NULL DEFAULT '',  -- v10: the rule that granted it
  awaits_payment  INTEGER NOT NULL DEFAULT 0,   -- v10: a top-up not paid yet (no grant transaction)
  rolled          TEXT    NOT NULL DEFAULT '0', -- v10: moved into its rollover lot
  UNIQUE (tenant_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS credit_settings (
  tenant_id   TEXT PRIMARY KEY,
  enforcement TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
);
-- The ledger: transactions whose entries sum to zero.
CREATE TABLE IF NOT EXISTS credit_txns (
  txn       INTEGER PRIMARY KEY,
  tenant_id TEXT    NOT NULL,
  kind      TEXT    NOT NULL,  -- grant, void, burn, trueup, rollover
  at        INTEGER NOT NULL,
  ref       TEXT               -- trueup: the invoice's month (YYYYMM), booked once
);
CREATE INDEX IF NOT EXISTS credit_txns_by_tenant ON credit_txns (tenant_id, txn);
CREATE UNIQUE INDEX IF NOT EXISTS credit_txns_by_ref ON credit_txns (tenant_id, kind, ref) WHERE ref IS NOT NULL;
CREATE TABLE IF NOT EXISTS credit_entries (
  txn        INTEGER NOT NULL,
  account    TEXT    NOT NULL,
  grant_id   TEXT    NOT NULL,
  month      INTEGER NOT NULL,
  event_type TEXT    NOT NULL,
  amount     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_entries_by_txn ON credit_entries (txn);
-- The usage entries summed per line and lot ('' = no credit: due), in the same transaction:
-- what the writer's live state is loaded from.
CREATE TABLE IF NOT EXISTS credit_lines (
  tenant_id  TEXT    NOT NULL,
  month      INTEGER NOT NULL,
  event_type TEXT    NOT NULL,
  grant_id   TEXT    NOT NULL,
  amount     TEXT    NOT NULL,
  PRIMARY KEY (tenant_id, month, event_type, grant_id)
) WITHOUT ROWID;
)sql";
}

void SqliteStore::stage(StagedCredit staged) {
  MutexLock lock(write_mutex_);
  staged_credit_ = std::move(staged);
}

void SqliteStore::write_staged_credit(std::int64_t at_ms) {
  if (staged_credit_.empty()) return;
  auto& burns = staged_credit_.burns;
  std::stable_sort(burns.begin(), burns.end(), [](const credits::Entry& a, const credits::Entry& b) {
    return a.tenant_id < b.tenant_id;
  });
  if (!upsert_credit_line_) {
    upsert_credit_line_ = std::make_unique<SQLite::Statement>(*writer_, kUpsertCreditLine);
  }
  std::span<const credits::Entry> all(burns);
  while (!all.empty()) {
    auto end = std::find_if(all.begin(), all.end(),
                            [&](const credits::Entry& e) { return e.tenant_id != all.front().tenant_id; });
    auto tenant = all.subspan(0, static_cast<std::size_t>(end - all.begin()));
    insert_transaction(*writer_, tenant.front().tenant_id, "burn", at_ms, tenant);
    project_usage(*upsert_credit_line_, tenant);
    all = all.subspan(tenant.size());
  }
  for (auto& lot : staged_credit_.lots) insert_lot(*writer_, lot);
  for (const auto& notice : staged_credit_.notices) insert_notice(*writer_, notice);
}

Result<credits::Lot> SqliteStore::put_grant(credits::Lot lot) {
  return sqlite_call("storing the credit grant", [&]() -> Result<credits::Lot> {
    auto db = borrow_connection();
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!insert_lot(*db, lot)) {
      return fail(Error{ErrorCode::kConflict, "a grant with this Idempotency-Key exists", "Idempotency-Key"});
    }
    if (!lot.awaits_payment) insert_grant_transaction(*db, lot, lot.created_at);
    tx.commit();
    return lot;
  });
}

Status SqliteStore::put_activation(const credits::Lot& lot, Timestamp at) {
  return sqlite_call("activating the credit grant", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement update(
        *db, "UPDATE credit_grants SET awaits_payment = 0 WHERE grant_id = ? AND awaits_payment = 1");
    update.bind(1, lot.id);
    if (update.exec() == 0) return {};  // activated before: credited then
    insert_grant_transaction(*db, lot, at);
    tx.commit();
    return {};
  });
}

Result<bool> SqliteStore::put_rollover(const credits::Lot& from, Decimal amount, credits::Lot& into) {
  return sqlite_call("rolling credit over", [&]() -> Result<bool> {
    into.amount = amount;  // one writer: what the caller found in the lot is what it holds
    auto db = borrow_connection();
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!insert_lot(*db, into)) return false;
    SQLite::Statement update(*db,
                             "UPDATE credit_grants SET rolled = meter_dec_add(rolled, ?) WHERE grant_id = ?");
    update.bind(1, amount.to_string());
    update.bind(2, from.id);
    update.exec();
    credits::Entry entries[] = {
        {from.tenant_id, credits::Account::kCredit, from.id, 0, "", Decimal::from_units(-amount.units())},
        {into.tenant_id, credits::Account::kCredit, into.id, 0, "", amount}};
    insert_transaction(*db, from.tenant_id, "rollover", to_unix_ms(into.created_at), entries);
    tx.commit();
    return true;
  });
}

Result<bool> SqliteStore::put_trueup(std::string_view tenant, int month,
                                     std::span<const credits::Entry> entries) {
  return put_keyed(tenant, "trueup", std::to_string(month), entries);
}

Result<bool> SqliteStore::put_restore(std::string_view tenant, std::string_view note,
                                      std::span<const credits::Entry> entries) {
  return put_keyed(tenant, "restore", std::string(note), entries);
}

Result<bool> SqliteStore::put_keyed(std::string_view tenant, std::string_view kind, const std::string& ref,
                                    std::span<const credits::Entry> entries) {
  return sqlite_call("booking the credit transaction", [&]() -> Result<bool> {
    auto db = borrow_connection();
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    if (insert_transaction(*db, tenant, kind, now_ms(), entries, ref) == 0) return false;
    SQLite::Statement up(*db, kUpsertCreditLine);
    project_usage(up, entries);
    tx.commit();
    return true;
  });
}

Result<std::optional<credits::LotRecord>> SqliteStore::grant_by_key(std::string_view tenant,
                                                                    std::string_view key) {
  return sqlite_call("reading the credit grant", [&]() -> Result<std::optional<credits::LotRecord>> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db, fmt::format("SELECT {} FROM credit_grants WHERE tenant_id = ? AND idempotency_key = ?",
                         kGrantColumns));
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(key));
    if (!s.executeStep()) return std::optional<credits::LotRecord>();
    auto r = read_lot(s);
    if (!r) return fail(r.error());
    return std::optional<credits::LotRecord>(std::move(*r));
  });
}

Status SqliteStore::put_void(const credits::LotRecord& record) {
  return sqlite_call("voiding the credit grant", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement update(
        *db, "UPDATE credit_grants SET voided_at = ?, voided = ? WHERE grant_id = ? AND voided_at IS NULL");
    update.bind(1, to_unix_ms(*record.lot.voided_at));
    update.bind(2, record.voided.to_string());
    update.bind(3, record.lot.id);
    if (update.exec() == 0) return {};  // voided before: booked then
    const credits::Lot& l = record.lot;
    credits::Entry entries[] = {
        {l.tenant_id, credits::Account::kCredit, l.id, 0, "", Decimal::from_units(-record.voided.units())},
        {l.tenant_id, credits::Account::kVoided, l.id, 0, "", record.voided}};
    insert_transaction(*db, l.tenant_id, "void", to_unix_ms(*l.voided_at), entries);
    tx.commit();
    return {};
  });
}

Result<std::vector<credits::LotRecord>> SqliteStore::grants(std::string_view tenant) {
  return sqlite_call("reading the credit grants", [&]() -> Result<std::vector<credits::LotRecord>> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db, fmt::format("SELECT {}, (SELECT meter_dec_sum(amount) FROM credit_lines c WHERE "
                         "c.tenant_id = g.tenant_id AND c.grant_id = g.grant_id) FROM credit_grants g "
                         "WHERE ? = '' OR tenant_id = ? ORDER BY seq",
                         kGrantColumns));
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(tenant));
    std::vector<credits::LotRecord> out;
    while (s.executeStep()) {
      auto r = read_lot(s);
      if (!r) return fail(r.error());
      if (!s.getColumn(kGrantColumnCount).isNull()) {
        auto consumed = stored_decimal(s.getColumn(kGrantColumnCount).getString(), "credit_lines");
        if (!consumed) return fail(consumed.error());
        r->consumed = *consumed;
      }
      out.push_back(std::move(*r));
    }
    return out;
  });
}

Status SqliteStore::put_enforcement(std::string_view tenant, credits::Enforcement e) {
  return sqlite_call("storing the credit enforcement", [&]() -> Status {
    auto db = borrow_connection();
    SQLite::Statement s(*db,
                        "INSERT INTO credit_settings VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                        "enforcement = excluded.enforcement, updated_at = excluded.updated_at");
    s.bind(1, std::string(tenant));
    s.bind(2, std::string(credits::enforcement_name(e)));
    s.bind(3, now_ms());
    s.exec();
    return {};
  });
}

Result<std::vector<std::pair<std::string, credits::Enforcement>>> SqliteStore::enforcements() {
  using Out = std::vector<std::pair<std::string, credits::Enforcement>>;
  return sqlite_call("reading the credit settings", [&]() -> Result<Out> {
    auto db = borrow_connection();
    SQLite::Statement s(*db, "SELECT tenant_id, enforcement FROM credit_settings ORDER BY tenant_id");
    Out out;
    while (s.executeStep()) {
      auto e = credits::parse_enforcement(s.getColumn(1).getString());
      if (!e) return fail(Error::internal("corrupt enforcement in credit_settings"));
      out.emplace_back(s.getColumn(0).getString(), *e);
    }
    return out;
  });
}

Result<std::optional<credits::Enforcement>> SqliteStore::enforcement(std::string_view tenant) {
  auto all = enforcements();
  if (!all) return fail(all.error());
  for (const auto& [id, e] : *all)
    if (id == tenant) return std::optional<credits::Enforcement>(e);
  return std::optional<credits::Enforcement>();
}

Result<credits::MonthLedger> SqliteStore::month_ledger(std::string_view tenant, int month) {
  return sqlite_call("reading the credit lines", [&]() -> Result<credits::MonthLedger> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db, "SELECT event_type, grant_id, amount FROM credit_lines WHERE tenant_id = ? AND month = ?");
    s.bind(1, std::string(tenant));
    s.bind(2, month);
    credits::MonthLedger out;
    while (s.executeStep()) {
      auto amount = stored_decimal(s.getColumn(2).getString(), "credit_lines");
      if (!amount) return fail(amount.error());
      std::string grant = s.getColumn(1).getString();
      if (grant.empty())
        out.due[s.getColumn(0).getString()] = *amount;
      else
        out.burnt[{grant, s.getColumn(0).getString()}] = *amount;
    }
    return out;
  });
}

Result<std::vector<credits::Transaction>> SqliteStore::transactions(std::string_view tenant,
                                                                    std::int64_t after, std::size_t limit) {
  return sqlite_call("reading the credit ledger", [&]() -> Result<std::vector<credits::Transaction>> {
    auto db = borrow_connection();
    SQLite::Statement s(
        *db,
        "SELECT t.txn, t.kind, t.at, e.account, e.grant_id, e.month, e.event_type, e.amount "
        "FROM (SELECT * FROM credit_txns WHERE tenant_id = ? AND txn > ? ORDER BY txn LIMIT ?) t "
        "JOIN credit_entries e ON e.txn = t.txn ORDER BY t.txn, e.rowid");
    s.bind(1, std::string(tenant));
    s.bind(2, after);
    s.bind(3, static_cast<std::int64_t>(limit));
    std::vector<credits::Transaction> out;
    while (s.executeStep()) {
      std::int64_t id = s.getColumn(0).getInt64();
      if (out.empty() || out.back().id != id) {
        out.push_back({id,
                       std::string(tenant),
                       s.getColumn(1).getString(),
                       from_unix_ms(s.getColumn(2).getInt64()),
                       {}});
      }
      auto account = credits::parse_account(s.getColumn(3).getString());
      auto amount = stored_decimal(s.getColumn(7).getString(), "credit_entries");
      if (!account || !amount) return fail(Error::internal("corrupt entry in credit_entries"));
      out.back().entries.push_back({std::string(tenant), *account, s.getColumn(4).getString(),
                                    s.getColumn(5).getInt(), s.getColumn(6).getString(), *amount});
    }
    return out;
  });
}

}  // namespace meter::store::sqlite

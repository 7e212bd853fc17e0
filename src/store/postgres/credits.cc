// PgStore's credit ledger (store/credit_ledger.h, docs/credits.md): lots, enforcement and the
// ledger's transactions, as in the embedded store, shared by every node. A change made outside
// the ingest groups (a grant, a void, a rollover...) first counts a change of the tenant's
// credit (credit_heads, schema.cc version 4), which queues it behind any group burning for the
// tenant, and tells the other nodes (meter_changes' 'credits') which tenant to reload.
#include <fmt/format.h>

#include <algorithm>

#include "store/postgres/credit_rows.h"
#include "store/postgres/pg_store.h"

namespace meter::store::postgres {
namespace {

constexpr const char* kGrantColumns =
    "grant_id, tenant_id, seq, name, amount, category, priority, scope, effective_at, expires_at, "
    "created_at, voided_at, idempotency_key, request_hash, voided, rule_id, awaits_payment, rolled";
constexpr int kGrantColumnCount = 18;

// What a lot still holds as stored: granted less consumed, voided and rolled over; nothing
// while it awaits payment. `g` is the credit_grants row.
constexpr const char* kHeld =
    "CASE WHEN g.awaits_payment THEN 0 ELSE g.amount - g.voided - g.rolled - coalesce((SELECT sum(c.amount) "
    "FROM credit_lines c WHERE c.tenant_id = g.tenant_id AND c.grant_id = g.grant_id), 0) END";

std::optional<Timestamp> optional_time(const Rows& rows, int r, int c) {
  if (rows.null(r, c)) return std::nullopt;
  return from_unix_ms(rows.int64(r, c));
}

Result<credits::LotRecord> read_lot(const Rows& rows, int r) {
  credits::LotRecord out;
  credits::Lot& l = out.lot;
  l.id = rows.str(r, 0);
  l.tenant_id = rows.str(r, 1);
  l.seq = rows.int64(r, 2);
  l.name = rows.str(r, 3);
  auto category = credits::parse_category(rows.text(r, 5));
  if (!category) return fail(Error::internal("corrupt category in credit_grants"));
  l.category = *category;
  l.priority = static_cast<int>(rows.int64(r, 6));
  l.scope = credits::split_scope(rows.text(r, 7));
  l.effective_at = from_unix_ms(rows.int64(r, 8));
  l.expires_at = optional_time(rows, r, 9);
  l.created_at = from_unix_ms(rows.int64(r, 10));
  l.voided_at = optional_time(rows, r, 11);
  l.idempotency_key = rows.str(r, 12);
  l.request_hash = rows.str(r, 13);
  l.rule_id = rows.str(r, 15);
  l.awaits_payment = rows.text(r, 16) == "t";
  for (auto [column, into] :
       {std::pair{4, &l.amount}, std::pair{14, &out.voided}, std::pair{17, &out.rolled}}) {
    auto d = rows.decimal(r, column, "a credit grant's amount");
    if (!d) return fail(d.error());
    *into = *d;
  }
  return out;
}

}  // namespace

Result<credits::Lot> insert_lot(Connection& tx, credits::Lot lot, bool new_seq) {
  if (new_seq) {
    auto seq = tx.exec("SELECT nextval('credit_lot_seq')");
    if (!seq) return fail(seq.error());
    lot.seq = seq->int64(0, 0);
  }
  Param params[] = {lot.id,
                    lot.tenant_id,
                    std::to_string(lot.seq),
                    lot.name,
                    lot.amount.to_string(),
                    std::string(credits::category_name(lot.category)),
                    std::to_string(lot.priority),
                    credits::join_scope(lot.scope),
                    std::to_string(to_unix_ms(lot.effective_at)),
                    lot.expires_at ? Param(std::to_string(to_unix_ms(*lot.expires_at))) : std::nullopt,
                    std::to_string(to_unix_ms(lot.created_at)),
                    lot.idempotency_key,
                    lot.request_hash,
                    lot.rule_id,
                    lot.awaits_payment ? "t" : "f"};
  auto inserted =
      tx.query(fmt::format("INSERT INTO credit_grants ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                           "$9, $10, $11, NULL, $12, $13, 0, $14, $15, 0) "
                           "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING 1",
                           kGrantColumns),
               params);
  if (!inserted) return fail(inserted.error());
  if (inserted->size() == 0) {
    return fail(Error{ErrorCode::kConflict, "a grant with this Idempotency-Key exists", "Idempotency-Key"});
  }
  return lot;
}

namespace {

// The lot's credit comes from its funding (paid or promotional).
Status insert_grant_transaction(Connection& tx, const credits::Lot& lot, Timestamp at) {
  credits::Entry entries[] = {
      {lot.tenant_id, credits::Account::kFunding, lot.id, 0,
       std::string(credits::category_name(lot.category)), Decimal::from_units(-lot.amount.units())},
      {lot.tenant_id, credits::Account::kCredit, lot.id, 0, "", lot.amount}};
  auto id = insert_transaction(tx, lot.tenant_id, "grant", to_unix_ms(at), entries);
  if (!id) return fail(id.error());
  return {};
}

}  // namespace

std::string transaction_sql(std::string_view tenant, std::string_view kind, std::int64_t at_ms,
                            std::span<const credits::Entry> entries, const std::optional<std::string>& ref,
                            bool returning) {
  std::vector<std::string_view> accounts, grants, types;
  std::vector<std::string> months, amounts;
  for (const auto& e : entries) {
    accounts.push_back(credits::account_name(e.account));
    grants.push_back(e.grant_id);
    months.push_back(std::to_string(e.month));
    types.push_back(e.event_type);
    amounts.push_back(e.amount.to_string());
  }
  std::string t = sql_literal(tenant);
  // The transaction, its entries, and its usage entries added to their lines.
  return fmt::format(
      "WITH t AS (INSERT INTO credit_txns (tenant_id, kind, at, ref) VALUES ({0}, {1}, {2}, {3}) "
      "ON CONFLICT DO NOTHING RETURNING txn),\n"
      "x AS (SELECT * FROM unnest({4}::text[], {5}::text[], {6}::int[], {7}::text[], {8}::numeric[]) "
      "WITH ORDINALITY AS x(account, grant_id, month, event_type, amount, pos)),\n"
      "e AS (INSERT INTO credit_entries SELECT t.txn, x.pos, x.account, x.grant_id, x.month, x.event_type, "
      "x.amount FROM t, x),\n"
      "l AS (INSERT INTO credit_lines SELECT {0}, x.month, x.event_type, x.grant_id, sum(x.amount) FROM t, x "
      "WHERE x.account = 'usage' GROUP BY 2, 3, 4 ORDER BY 2, 3, 4 "
      "ON CONFLICT (tenant_id, month, event_type, grant_id) DO UPDATE SET amount = credit_lines.amount + "
      "excluded.amount RETURNING 1)\n"
      "SELECT {9} FROM t LEFT JOIN (SELECT count(*) FROM l) n ON true{10}",
      t, sql_literal(kind), at_ms, ref ? sql_literal(*ref) : "NULL", sql_literal(text_array(accounts)),
      sql_literal(text_array(grants)), sql_literal(text_array(months)), sql_literal(text_array(types)),
      sql_literal(text_array(amounts)), returning ? "t.txn" : "1", returning ? "" : " WHERE false");
}

Result<std::int64_t> insert_transaction(Connection& tx, std::string_view tenant, std::string_view kind,
                                        std::int64_t at_ms, std::span<const credits::Entry> entries,
                                        std::optional<std::string> ref) {
  auto id = tx.exec(transaction_sql(tenant, kind, at_ms, entries, ref, true));
  if (!id) return fail(id.error());
  return id->size() == 0 ? std::int64_t{0} : id->int64(0, 0);
}

template <class T>
Result<T> PgStore::credit_change(std::string_view tenant, const std::function<Result<T>(Connection&)>& body) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  return in_transaction(**db, [&](Connection& tx) -> Result<T> {
    Param id[] = {std::string(tenant)};
    // The tenant's count first: a group burning for it holds that row until it commits.
    if (auto s = tx.query("INSERT INTO credit_heads (tenant_id, version) VALUES ($1, 1) ON CONFLICT "
                          "(tenant_id) DO UPDATE SET version = credit_heads.version + 1",
                          id);
        !s)
      return fail(s.error());
    auto result = body(tx);
    if (!result) return result;
    // Taken last, so changes to different tenants never deadlock.
    if (auto s = tx.query("WITH v AS (UPDATE meter_changes SET version = version + 1 WHERE kind = 'credits' "
                          "RETURNING version) UPDATE credit_heads SET changed = (SELECT version FROM v) "
                          "WHERE tenant_id = $1",
                          id);
        !s)
      return fail(s.error());
    return result;
  });
}
template Result<bool> PgStore::credit_change(std::string_view,
                                             const std::function<Result<bool>(Connection&)>&);

Result<credits::Lot> PgStore::put_grant(credits::Lot lot) {
  return credit_change<credits::Lot>(lot.tenant_id, [&](Connection& tx) -> Result<credits::Lot> {
    auto stored = insert_lot(tx, std::move(lot), true);
    if (!stored) return stored;
    if (!stored->awaits_payment) {
      if (auto s = insert_grant_transaction(tx, *stored, stored->created_at); !s) return fail(s.error());
    }
    return stored;
  });
}

Status PgStore::put_activation(const credits::Lot& lot, Timestamp at) {
  auto done = credit_change<bool>(lot.tenant_id, [&](Connection& tx) -> Result<bool> {
    Param id[] = {lot.id};
    auto updated = tx.query(
        "UPDATE credit_grants SET awaits_payment = false WHERE grant_id = $1 AND awaits_payment RETURNING 1",
        id);
    if (!updated) return fail(updated.error());
    if (updated->size() == 0) return false;  // activated before: credited then
    if (auto s = insert_grant_transaction(tx, lot, at); !s) return fail(s.error());
    return true;
  });
  if (!done) return fail(done.error());
  return {};
}

Status PgStore::put_void(const credits::LotRecord& record) {
  const credits::Lot& l = record.lot;
  // What it holds as stored: another node may have burnt from it since this one looked.
  auto done = credit_change<bool>(l.tenant_id, [&](Connection& tx) -> Result<bool> {
    Param params[] = {l.id, std::to_string(to_unix_ms(*l.voided_at))};
    auto voided =
        tx.query(fmt::format("UPDATE credit_grants g SET voided_at = $2, voided = g.voided + "
                             "greatest(0, {}) WHERE grant_id = $1 AND voided_at IS NULL RETURNING voided",
                             kHeld),
                 params);
    if (!voided) return fail(voided.error());
    if (voided->size() == 0) return false;  // voided before: booked then
    auto amount = voided->decimal(0, 0, "a void");
    if (!amount) return fail(amount.error());
    credits::Entry entries[] = {
        {l.tenant_id, credits::Account::kCredit, l.id, 0, "", Decimal::from_units(-amount->units())},
        {l.tenant_id, credits::Account::kVoided, l.id, 0, "", *amount}};
    auto id = insert_transaction(tx, l.tenant_id, "void", to_unix_ms(*l.voided_at), entries);
    if (!id) return fail(id.error());
    return true;
  });
  if (!done) return fail(done.error());
  return {};
}

Result<bool> PgStore::put_rollover(const credits::Lot& from, Decimal amount, credits::Lot& into) {
  return credit_change<bool>(from.tenant_id, [&](Connection& tx) -> Result<bool> {
    Param id[] = {from.id};
    auto held = tx.query(fmt::format("SELECT {} FROM credit_grants g WHERE grant_id = $1", kHeld), id);
    if (!held) return fail(held.error());
    if (held->size() == 0) return false;
    auto left = held->decimal(0, 0, "a lot's credit");
    if (!left) return fail(left.error());
    into.amount = std::min(amount, *left);
    if (into.amount <= Decimal()) return false;
    auto stored = insert_lot(tx, into, true);
    if (!stored && stored.error().code == ErrorCode::kConflict) return false;  // rolled over before
    if (!stored) return fail(stored.error());
    into = *stored;
    Param rolled[] = {from.id, into.amount.to_string()};
    if (auto s = tx.query("UPDATE credit_grants SET rolled = rolled + $2 WHERE grant_id = $1", rolled); !s)
      return fail(s.error());
    credits::Entry entries[] = {{from.tenant_id, credits::Account::kCredit, from.id, 0, "",
                                 Decimal::from_units(-into.amount.units())},
                                {into.tenant_id, credits::Account::kCredit, into.id, 0, "", into.amount}};
    auto txn = insert_transaction(tx, from.tenant_id, "rollover", to_unix_ms(into.created_at), entries);
    if (!txn) return fail(txn.error());
    return true;
  });
}

Result<bool> PgStore::put_trueup(std::string_view tenant, int month,
                                 std::span<const credits::Entry> entries) {
  return put_keyed(tenant, "trueup", std::to_string(month), entries);
}

Result<bool> PgStore::put_restore(std::string_view tenant, std::string_view note,
                                  std::span<const credits::Entry> entries) {
  return put_keyed(tenant, "restore", std::string(note), entries);
}

Result<bool> PgStore::put_keyed(std::string_view tenant, std::string_view kind, const std::string& ref,
                                std::span<const credits::Entry> entries) {
  return credit_change<bool>(tenant, [&](Connection& tx) -> Result<bool> {
    auto id = insert_transaction(tx, tenant, kind, now_ms(), entries, ref);
    if (!id) return fail(id.error());
    return *id != 0;
  });
}

Result<std::optional<credits::LotRecord>> PgStore::grant_by_key(std::string_view tenant,
                                                                std::string_view key) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), std::string(key)};
  auto rows =
      (*db)->query(fmt::format("SELECT {} FROM credit_grants WHERE tenant_id = $1 AND idempotency_key = $2",
                               kGrantColumns),
                   params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::optional<credits::LotRecord>();
  auto lot = read_lot(*rows, 0);
  if (!lot) return fail(lot.error());
  return std::optional<credits::LotRecord>(std::move(*lot));
}

Result<std::vector<credits::LotRecord>> PgStore::grants(std::string_view tenant) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant)};
  auto rows = (*db)->query(
      fmt::format(
          "SELECT {}, (SELECT sum(c.amount) FROM credit_lines c WHERE c.tenant_id = g.tenant_id AND "
          "c.grant_id = g.grant_id) FROM credit_grants g WHERE $1 = '' OR tenant_id = $1 ORDER BY seq",
          kGrantColumns),
      params);
  if (!rows) return fail(rows.error());
  std::vector<credits::LotRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto lot = read_lot(*rows, r);
    if (!lot) return fail(lot.error());
    if (!rows->null(r, kGrantColumnCount)) {
      auto consumed = rows->decimal(r, kGrantColumnCount, "a lot's consumption");
      if (!consumed) return fail(consumed.error());
      lot->consumed = *consumed;
    }
    out.push_back(std::move(*lot));
  }
  return out;
}

Status PgStore::put_enforcement(std::string_view tenant, credits::Enforcement e) {
  auto done = credit_change<bool>(tenant, [&](Connection& tx) -> Result<bool> {
    Param params[] = {std::string(tenant), std::string(credits::enforcement_name(e)),
                      std::to_string(now_ms())};
    auto s = tx.query(
        "INSERT INTO credit_settings VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET "
        "enforcement = excluded.enforcement, updated_at = excluded.updated_at",
        params);
    if (!s) return fail(s.error());
    return true;
  });
  if (!done) return fail(done.error());
  return {};
}

Result<std::vector<std::pair<std::string, credits::Enforcement>>> PgStore::enforcements() {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto rows = (*db)->exec("SELECT tenant_id, enforcement FROM credit_settings ORDER BY tenant_id");
  if (!rows) return fail(rows.error());
  std::vector<std::pair<std::string, credits::Enforcement>> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto e = credits::parse_enforcement(rows->text(r, 1));
    if (!e) return fail(Error::internal("corrupt enforcement in credit_settings"));
    out.emplace_back(rows->str(r, 0), *e);
  }
  return out;
}

Result<std::optional<credits::Enforcement>> PgStore::enforcement(std::string_view tenant) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant)};
  auto rows = (*db)->query("SELECT enforcement FROM credit_settings WHERE tenant_id = $1", params);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::optional<credits::Enforcement>();
  auto e = credits::parse_enforcement(rows->text(0, 0));
  if (!e) return fail(Error::internal("corrupt enforcement in credit_settings"));
  return std::optional<credits::Enforcement>(*e);
}

Result<credits::MonthLedger> PgStore::month_ledger(std::string_view tenant, int month) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), std::to_string(month)};
  auto rows = (*db)->query(
      "SELECT event_type, grant_id, amount FROM credit_lines WHERE tenant_id = $1 AND month = $2", params);
  if (!rows) return fail(rows.error());
  credits::MonthLedger out;
  for (int r = 0; r < rows->size(); ++r) {
    auto amount = rows->decimal(r, 2, "a credit line");
    if (!amount) return fail(amount.error());
    if (rows->text(r, 1).empty())
      out.due[rows->str(r, 0)] = *amount;
    else
      out.burnt[{rows->str(r, 1), rows->str(r, 0)}] = *amount;
  }
  return out;
}

Result<Decimal> PgStore::consumed_between(std::string_view tenant, Timestamp from, Timestamp to) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), std::to_string(to_unix_ms(from)), std::to_string(to_unix_ms(to))};
  // Credit entries are negative when consumed.
  auto rows = (*db)->query(
      "SELECT coalesce(-sum(e.amount), 0) FROM credit_txns t JOIN credit_entries e ON e.txn = t.txn "
      "WHERE t.tenant_id = $1 AND t.at >= $2 AND t.at < $3 AND t.kind IN ('burn', 'trueup', 'restore') "
      "AND e.account = 'credit'",
      params);
  if (!rows) return fail(rows.error());
  return rows->decimal(0, 0, "the credit consumed");
}

Result<std::vector<credits::Transaction>> PgStore::transactions(std::string_view tenant, std::int64_t after,
                                                                std::size_t limit) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), std::to_string(after), std::to_string(limit)};
  auto rows = (*db)->query(
      "SELECT t.txn, t.kind, t.at, e.account, e.grant_id, e.month, e.event_type, e.amount "
      "FROM (SELECT * FROM credit_txns WHERE tenant_id = $1 AND txn > $2 ORDER BY txn LIMIT $3) t "
      "JOIN credit_entries e ON e.txn = t.txn ORDER BY t.txn, e.pos",
      params);
  if (!rows) return fail(rows.error());
  std::vector<credits::Transaction> out;
  for (int r = 0; r < rows->size(); ++r) {
    std::int64_t id = rows->int64(r, 0);
    if (out.empty() || out.back().id != id)
      out.push_back({id, std::string(tenant), rows->str(r, 1), from_unix_ms(rows->int64(r, 2)), {}});
    auto account = credits::parse_account(rows->text(r, 3));
    auto amount = rows->decimal(r, 7, "a credit entry");
    if (!account || !amount) return fail(Error::internal("corrupt entry in credit_entries"));
    out.back().entries.push_back({std::string(tenant), *account, rows->str(r, 4),
                                  static_cast<int>(rows->int64(r, 5)), rows->str(r, 6), *amount});
  }
  return out;
}

}  // namespace meter::store::postgres

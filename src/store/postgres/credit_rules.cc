// PgStore's credit rules and notices, and what lets several writers share the ledger
// (store/credit_ledger.h): each group's burns, written in its transaction, and the per-tenant
// change counts that tell a writer when another changed a tenant's credit.
#include <fmt/format.h>

#include <algorithm>

#include "store/postgres/credit_rows.h"
#include "store/postgres/pg_store.h"

namespace meter::store::postgres {
namespace {

constexpr const char* kRuleColumns =
    "rule_id, tenant_id, kind, threshold, amount, category, priority, scope, expires_after, starts, "
    "rollover_max, rollover_priority, rollover_expires_after, created_at, idempotency_key, request_hash";

Result<credits::Rule> read_rule(const Rows& rows, int r) {
  credits::Rule out;
  out.id = rows.str(r, 0);
  out.tenant_id = rows.str(r, 1);
  auto kind = credits::parse_rule_kind(rows.text(r, 2));
  auto category = credits::parse_category(rows.text(r, 5));
  if (!kind || !category) return fail(Error::internal("corrupt rule in credit_rules"));
  out.kind = *kind;
  out.category = *category;
  for (auto [column, into] : {std::pair{3, &out.threshold}, std::pair{4, &out.amount}}) {
    auto d = rows.decimal(r, column, "a credit rule's amount");
    if (!d) return fail(d.error());
    *into = *d;
  }
  out.priority = static_cast<int>(rows.int64(r, 6));
  out.scope = credits::split_scope(rows.text(r, 7));
  out.expires_after = rows.str(r, 8);
  out.starts = static_cast<int>(rows.int64(r, 9));
  if (!rows.null(r, 10)) {
    auto d = rows.decimal(r, 10, "a rule's rollover cap");
    if (!d) return fail(d.error());
    out.rollover_max = *d;
  }
  out.rollover_priority = static_cast<int>(rows.int64(r, 11));
  out.rollover_expires_after = rows.str(r, 12);
  out.created_at = from_unix_ms(rows.int64(r, 13));
  out.idempotency_key = rows.str(r, 14);
  out.request_hash = rows.str(r, 15);
  return out;
}

Result<std::vector<credits::Rule>> read_rules(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  std::vector<credits::Rule> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto rule = read_rule(*rows, r);
    if (!rule) return fail(rule.error());
    out.push_back(std::move(*rule));
  }
  return out;
}

}  // namespace

Result<bool> insert_notice(Connection& tx, const credits::Notice& n) {
  Param params[] = {n.id, n.tenant_id, n.type, n.ref, std::to_string(to_unix_ms(n.at)), n.body};
  auto rows = tx.query(
      "INSERT INTO credit_notices (notice_id, tenant_id, type, ref, fired_at, body, delivery, attempts) "
      "VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0) ON CONFLICT DO NOTHING RETURNING 1",
      params);
  if (!rows) return fail(rows.error());
  return rows->size() > 0;
}

Status PgStore::put_rule(const credits::Rule& r) {
  auto done = credit_change<bool>(r.tenant_id, [&](Connection& tx) -> Result<bool> {
    Param params[] = {r.id,
                      r.tenant_id,
                      std::string(credits::rule_kind_name(r.kind)),
                      r.threshold.to_string(),
                      r.amount.to_string(),
                      std::string(credits::category_name(r.category)),
                      std::to_string(r.priority),
                      credits::join_scope(r.scope),
                      r.expires_after,
                      std::to_string(r.starts),
                      r.rollover_max ? Param(r.rollover_max->to_string()) : std::nullopt,
                      std::to_string(r.rollover_priority),
                      r.rollover_expires_after,
                      std::to_string(to_unix_ms(r.created_at)),
                      r.idempotency_key,
                      r.request_hash};
    auto s = tx.query(fmt::format("INSERT INTO credit_rules ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                                  "$10, $11, $12, $13, $14, $15, $16)",
                                  kRuleColumns),
                      params);
    if (!s) return fail(s.error());
    return true;
  });
  if (!done) return fail(done.error());
  return {};
}

Result<bool> PgStore::delete_rule(std::string_view tenant, std::string_view id, Timestamp at) {
  return credit_change<bool>(tenant, [&](Connection& tx) -> Result<bool> {
    Param params[] = {std::string(tenant), std::string(id), std::to_string(to_unix_ms(at))};
    auto rows = tx.query(
        "UPDATE credit_rules SET deleted_at = $3 WHERE tenant_id = $1 AND rule_id = $2 AND deleted_at IS "
        "NULL "
        "RETURNING 1",
        params);
    if (!rows) return fail(rows.error());
    return rows->size() > 0;
  });
}

Result<std::vector<credits::Rule>> PgStore::rules(std::string_view tenant) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant)};
  return read_rules((*db)->query(fmt::format("SELECT {} FROM credit_rules WHERE deleted_at IS NULL AND "
                                             "($1 = '' OR tenant_id = $1) ORDER BY created_at, rule_id",
                                             kRuleColumns),
                                 params));
}

Result<std::optional<credits::Rule>> PgStore::rule_by_key(std::string_view tenant, std::string_view key) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), std::string(key)};
  auto rules = read_rules((*db)->query(
      fmt::format("SELECT {} FROM credit_rules WHERE tenant_id = $1 AND idempotency_key = $2", kRuleColumns),
      params));
  if (!rules) return fail(rules.error());
  if (rules->empty()) return std::optional<credits::Rule>();
  return std::optional<credits::Rule>(std::move(rules->front()));
}

Result<bool> PgStore::put_notice(const credits::Notice& notice) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  return insert_notice(**db, notice);
}

Status PgStore::update_notice_delivery(std::string_view id, std::string_view delivery, int attempts) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(id), std::string(delivery), std::to_string(attempts)};
  if (auto s =
          (*db)->query("UPDATE credit_notices SET delivery = $2, attempts = $3 WHERE notice_id = $1", params);
      !s)
    return fail(s.error());
  return {};
}

Result<std::vector<credits::NoticeRecord>> PgStore::notices(std::string_view tenant, std::size_t limit,
                                                            bool pending_only) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::string(tenant), pending_only ? "t" : "f", std::to_string(limit)};
  auto rows = (*db)->query(
      "SELECT notice_id, tenant_id, type, ref, fired_at, body, delivery, attempts FROM credit_notices "
      "WHERE ($1 = '' OR tenant_id = $1) AND (NOT $2::boolean OR delivery = 'pending') "
      "ORDER BY fired_at DESC, seq DESC LIMIT $3",
      params);
  if (!rows) return fail(rows.error());
  std::vector<credits::NoticeRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    credits::NoticeRecord n;
    n.notice = {
        rows->str(r, 0), rows->str(r, 1), rows->str(r, 2), rows->str(r, 3), from_unix_ms(rows->int64(r, 4)),
        rows->str(r, 5)};
    n.delivery = rows->str(r, 6);
    n.attempts = static_cast<int>(rows->int64(r, 7));
    out.push_back(std::move(n));
  }
  return out;
}

void PgStore::stage(StagedCredit staged) { staged_credit_ = std::move(staged); }

Result<std::string> PgStore::write_staged_credit(std::int64_t at_ms) {
  StagedCredit staged = std::move(staged_credit_);
  staged_credit_ = {};
  for (const auto& lot : staged.lots) {
    // A top-up lot awaits payment: no grant transaction yet. Its seq came from lot_seq().
    auto stored = insert_lot(*writer_, lot, false);
    if (!stored && stored.error().code != ErrorCode::kConflict) return fail(stored.error());
  }
  for (const auto& notice : staged.notices) {
    if (auto s = insert_notice(*writer_, notice); !s) return fail(s.error());
  }
  auto& burns = staged.burns;
  std::stable_sort(burns.begin(), burns.end(), [](const credits::Entry& a, const credits::Entry& b) {
    return a.tenant_id < b.tenant_id;
  });
  std::string sql;
  std::span<const credits::Entry> all(burns);
  while (!all.empty()) {
    auto end = std::find_if(all.begin(), all.end(),
                            [&](const credits::Entry& e) { return e.tenant_id != all.front().tenant_id; });
    auto tenant = all.subspan(0, static_cast<std::size_t>(end - all.begin()));
    sql += transaction_sql(tenant.front().tenant_id, "burn", at_ms, tenant, std::nullopt, false);
    sql += ";\n";
    all = all.subspan(tenant.size());
  }
  return sql;
}

Result<CreditLedger::GroupSync> PgStore::sync_group(std::span<const std::string> tenants,
                                                    std::span<const Event* const> events) {
  auto db = writer();
  if (!db) return fail(db.error());
  // One round trip: the counts (their row locks queue the tenants' groups across writers, in
  // sorted order), then, in a statement of its own that sees what those groups committed, the
  // counts, and (after a group found ids stored already: append_group) the events stored.
  std::string sql = in_group_ ? "" : "BEGIN;\n";
  in_group_ = true;
  fmt::format_to(
      std::back_inserter(sql),
      "INSERT INTO credit_heads (tenant_id, version) SELECT t, 1 FROM unnest({0}::text[]) t ORDER BY t "
      "ON CONFLICT (tenant_id) DO UPDATE SET version = credit_heads.version + 1;\n"
      "SELECT 0, tenant_id, version FROM credit_heads WHERE tenant_id = ANY({0}::text[])",
      sql_literal(text_array(tenants)));
  ids_checked_ = recheck_ids_ && !events.empty();
  if (ids_checked_) {
    std::vector<std::string_view> owners, ids;
    for (const Event* e : events) {
      owners.push_back(e->tenant_id);
      ids.push_back(e->id);
    }
    fmt::format_to(
        std::back_inserter(sql),
        " UNION ALL SELECT x.i, '', 0 FROM unnest({}::text[], {}::text[]) WITH ORDINALITY AS x(t, id, i) "
        "WHERE EXISTS (SELECT 1 FROM event_ids e WHERE e.tenant_id = x.t AND e.id = x.id)",
        sql_literal(text_array(owners)), sql_literal(text_array(ids)));
  }
  auto rows = writer_->exec(sql);
  if (!rows) {
    abort_group();
    return fail(rows.error());
  }
  GroupSync out{std::vector<std::int64_t>(tenants.size(), 0), std::vector<bool>(events.size(), false)};
  for (int r = 0; r < rows->size(); ++r) {
    std::int64_t position = rows->int64(r, 0);
    if (position > 0) {
      out.stored[static_cast<std::size_t>(position - 1)] = true;
      continue;
    }
    auto at = std::find(tenants.begin(), tenants.end(), rows->text(r, 1));
    if (at != tenants.end())
      out.before[static_cast<std::size_t>(at - tenants.begin())] = rows->int64(r, 2) - 1;
  }
  return out;
}

Result<std::int64_t> PgStore::lot_seq(std::int64_t) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto seq = (*db)->exec("SELECT nextval('credit_lot_seq')");
  if (!seq) return fail(seq.error());
  return seq->int64(0, 0);
}

Result<CreditLedger::Changes> PgStore::changed_since(std::int64_t seen) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto version = (*db)->exec("SELECT version FROM meter_changes WHERE kind = 'credits'");
  if (!version) return fail(version.error());
  Changes out{version->int64(0, 0), {}};
  if (out.version == seen || seen < 0) return out;  // < 0: only the version
  Param params[] = {std::to_string(seen), std::to_string(out.version)};
  auto rows = (*db)->query(
      "SELECT tenant_id FROM credit_heads WHERE changed > $1 AND changed <= $2 ORDER BY tenant_id", params);
  if (!rows) return fail(rows.error());
  for (int r = 0; r < rows->size(); ++r) out.tenants.push_back(rows->str(r, 0));
  return out;
}

}  // namespace meter::store::postgres

#include "store/postgres/key_store.h"

#include <fmt/format.h>

namespace meter::store::postgres {
namespace {

constexpr const char* kBumpKeys = "UPDATE meter_changes SET version = version + 1 WHERE kind = 'keys'";

}  // namespace

Status PgKeyStore::insert(const auth::KeyRecord& r) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {r.key_id,
                    r.hash,
                    r.admin ? "t" : "f",
                    r.admin ? Param() : Param(r.tenant_id),
                    r.name,
                    std::to_string(to_unix_ms(r.created_at))};
  auto done = in_transaction(**db, [&](Connection& tx) -> Result<Rows> {
    auto inserted = tx.query("INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, NULL)", params);
    if (!inserted) return inserted;
    return tx.exec(kBumpKeys);
  });
  if (!done) return fail(done.error());
  return {};
}

Result<std::vector<auth::KeyRecord>> PgKeyStore::list() {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto rows = (*db)->exec(
      "SELECT key_id, hash, admin, coalesce(tenant_id, ''), name, created_at, revoked_at FROM api_keys "
      "ORDER BY created_at, key_id");
  if (!rows) return fail(rows.error());
  std::vector<auth::KeyRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    auth::KeyRecord k;
    k.key_id = rows->str(r, 0);
    k.hash = rows->str(r, 1);
    k.admin = rows->text(r, 2) == "t";
    k.tenant_id = rows->str(r, 3);
    k.name = rows->str(r, 4);
    k.created_at = from_unix_ms(rows->int64(r, 5));
    if (!rows->null(r, 6)) k.revoked_at = from_unix_ms(rows->int64(r, 6));
    out.push_back(std::move(k));
  }
  return out;
}

Status PgKeyStore::revoke(const std::string& key_id, Timestamp now) {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  Param params[] = {std::to_string(to_unix_ms(now)), key_id};
  auto done = in_transaction(**db, [&](Connection& tx) -> Result<Rows> {
    auto revoked = tx.query(
        "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL RETURNING 1", params);
    if (!revoked) return revoked;
    if (revoked->size() == 0) {
      return fail(Error{ErrorCode::kNotFound,
                        fmt::format("no active key with id {} (see `meterd keys list`)", key_id), "key_id"});
    }
    return tx.exec(kBumpKeys);
  });
  if (!done) return fail(done.error());
  return {};
}

Result<std::int64_t> PgKeyStore::version() {
  auto db = pool_.borrow();
  if (!db) return fail(db.error());
  auto rows = (*db)->exec("SELECT version FROM meter_changes WHERE kind = 'keys'");
  if (!rows) return fail(rows.error());
  if (rows->size() == 0)
    return fail(Error::unavailable("the PostgreSQL schema has no meter_changes: run meterd migrate"));
  return rows->int64(0, 0);
}

}  // namespace meter::store::postgres

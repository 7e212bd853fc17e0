#include "auth/sqlite_key_store.h"

#include <fmt/format.h>

#include "auth/api_key.h"

namespace meter::auth {

SqliteKeyStore::SqliteKeyStore(const std::filesystem::path& path)
    : db_(
          [&] {
            if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
            return path.string();
          }(),
          SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) {
  db_.exec("PRAGMA journal_mode = WAL");
  db_.exec("PRAGMA synchronous = FULL");
  db_.exec("PRAGMA busy_timeout = 5000");
  db_.exec(R"sql(CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,  -- SHA-256 of the key, hex; the key itself is never stored
    admin      INTEGER NOT NULL,
    tenant_id  TEXT,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  ))sql");
}

Status SqliteKeyStore::insert(const KeyRecord& r) {
  try {
    SQLite::Statement insert(db_, "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)");
    insert.bind(1, r.key_id);
    insert.bind(2, r.hash);
    insert.bind(3, r.admin ? 1 : 0);
    if (r.admin)
      insert.bind(4);
    else
      insert.bind(4, r.tenant_id);
    insert.bind(5, r.name);
    insert.bind(6, static_cast<std::int64_t>(to_unix_ms(r.created_at)));
    insert.exec();
    return {};
  } catch (const std::exception& e) {
    return fail(Error::unavailable(std::string("cannot store the key: ") + e.what()));
  }
}

Result<std::vector<KeyRecord>> SqliteKeyStore::list() {
  try {
    std::vector<KeyRecord> out;
    SQLite::Statement q(db_,
                        "SELECT key_id, hash, admin, tenant_id, name, created_at, revoked_at FROM api_keys "
                        "ORDER BY created_at, key_id");
    while (q.executeStep()) {
      KeyRecord r;
      r.key_id = q.getColumn(0).getString();
      r.hash = q.getColumn(1).getString();
      r.admin = q.getColumn(2).getInt() != 0;
      r.tenant_id = q.getColumn(3).getString();
      r.name = q.getColumn(4).getString();
      r.created_at = from_unix_ms(q.getColumn(5).getInt64());
      if (!q.getColumn(6).isNull()) r.revoked_at = from_unix_ms(q.getColumn(6).getInt64());
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return fail(Error::unavailable(std::string("cannot read the keys: ") + e.what()));
  }
}

Status SqliteKeyStore::revoke(const std::string& key_id, Timestamp now) {
  try {
    SQLite::Statement update(db_,
                             "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL");
    update.bind(1, static_cast<std::int64_t>(to_unix_ms(now)));
    update.bind(2, key_id);
    if (update.exec() == 0) {
      return fail(Error{ErrorCode::kNotFound,
                        fmt::format("no active key with id {} (see `meterd keys list`)", key_id), "key_id"});
    }
    return {};
  } catch (const std::exception& e) {
    return fail(Error::unavailable(std::string("cannot revoke the key: ") + e.what()));
  }
}

Result<std::int64_t> SqliteKeyStore::version() {
  try {
    SQLite::Statement q(db_, "PRAGMA data_version");
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return fail(Error::unavailable(std::string("cannot read the keys' version: ") + e.what()));
  }
}

}  // namespace meter::auth

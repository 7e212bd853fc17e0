#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>

#include "auth/key_store.h"

namespace meter::auth {

// API keys in DATA_DIR/keys.db, a SQLite file of its own beside the embedded store.
class SqliteKeyStore final : public KeyStore {
 public:
  // Opens or creates the file. Throws SQLite::Exception when it cannot (a start-up error).
  explicit SqliteKeyStore(const std::filesystem::path& path);

  Result<std::vector<KeyRecord>> list() override;
  Status revoke(const std::string& key_id, Timestamp now) override;
  // PRAGMA data_version: changes whenever another connection commits to the file.
  Result<std::int64_t> version() override;

 private:
  Status insert(const KeyRecord& record) override;
  SQLite::Database db_;
};

}  // namespace meter::auth

#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace meter::auth {

struct KeyRecord {
  std::string key_id;
  std::string hash;  // SHA-256 of the key, hex
  bool admin = false;
  std::string tenant_id;
  std::string name;
  Timestamp created_at;
  std::optional<Timestamp> revoked_at;
};

// API keys in DATA_DIR/keys.db (a SQLite file of its own, whatever the event store is).
// The CLI writes it; a running server re-reads it when it changes. Not thread-safe: one
// instance per thread.
class KeyStore {
 public:
  // Opens or creates the file. Throws SQLite::Exception when it cannot (a start-up error).
  explicit KeyStore(const std::filesystem::path& path);

  // Creates a key and returns it in clear: the only time it is ever seen.
  Result<std::string> create(bool admin, const std::string& tenant_id, const std::string& name,
                             Timestamp now);
  Result<std::vector<KeyRecord>> list();
  // Revokes by key id; not found is an error naming the id.
  Status revoke(const std::string& key_id, Timestamp now);
  // Changes whenever another connection commits to the file (PRAGMA data_version).
  std::int64_t version();

 private:
  SQLite::Database db_;
};

}  // namespace meter::auth

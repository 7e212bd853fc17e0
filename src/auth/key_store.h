#pragma once

#include <cstdint>
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

// Where API keys are kept: DATA_DIR/keys.db (SqliteKeyStore), or PostgreSQL, shared by every
// node (store/postgres/key_store.h). The CLI writes; a running server re-reads the keys when
// version() changes. Not thread-safe: one user at a time.
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Makes a key, stores its record (hash only) and returns the key in clear: the only time it is
  // ever seen.
  Result<std::string> create(bool admin, const std::string& tenant_id, const std::string& name,
                             Timestamp now);

  virtual Result<std::vector<KeyRecord>> list() = 0;
  // Revokes by key id; not found (or already revoked) is an error naming the id.
  virtual Status revoke(const std::string& key_id, Timestamp now) = 0;
  // Changes whenever the keys change, from any process or node.
  virtual Result<std::int64_t> version() = 0;

 protected:
  virtual Status insert(const KeyRecord& record) = 0;
};

}  // namespace meter::auth

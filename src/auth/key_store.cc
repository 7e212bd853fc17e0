#include "auth/key_store.h"

#include "auth/api_key.h"

namespace meter::auth {

Result<std::string> KeyStore::create(bool admin, const std::string& tenant_id, const std::string& name,
                                     Timestamp now) {
  std::string key = generate_key();
  KeyRecord record;
  record.hash = sha256_hex(key);
  record.key_id = key_id_of_hash(record.hash);
  record.admin = admin;
  record.tenant_id = admin ? "" : tenant_id;
  record.name = name;
  record.created_at = now;
  if (auto s = insert(record); !s) return fail(s.error());
  return key;
}

}  // namespace meter::auth

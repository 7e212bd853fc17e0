#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "auth/key_store.h"
#include "store/postgres/connection.h"

namespace meter::store::postgres {

// API keys in PostgreSQL (api_keys), shared by every node: a key created or revoked through any
// node's CLI is seen by all within the authenticator's refresh interval (version() is the
// 'keys' counter of meter_changes). The schema is created by migrate().
class PgKeyStore final : public auth::KeyStore {
 public:
  PgKeyStore(std::string url, std::chrono::milliseconds timeout) : pool_(std::move(url), timeout) {}

  Result<std::vector<auth::KeyRecord>> list() override;
  Status revoke(const std::string& key_id, Timestamp now) override;
  Result<std::int64_t> version() override;

 private:
  Status insert(const auth::KeyRecord& record) override;
  ConnectionPool pool_;
};

}  // namespace meter::store::postgres

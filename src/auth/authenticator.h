#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "auth/key_store.h"
#include "auth/principal.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/sync.h"

namespace meter::auth {

// Turns an Authorization header into a Principal. Holds the active keys' hashes in memory and
// re-reads the key store when another process or node (the `meterd keys` CLI) has changed it,
// checking at most once per refresh interval, so a created or revoked key takes effect within
// that interval.
// Thread-safe: authenticate() runs on every HTTP thread; readers never wait for a refresh.
class Authenticator {
 public:
  Authenticator(std::unique_ptr<KeyStore> store, const Clock& clock,
                std::chrono::milliseconds refresh = std::chrono::seconds(1));

  // Reads the keys; call once before serving. Fails when they cannot be read (a start-up error).
  Status load();

  // Open mode: with no active keys every caller is an anonymous admin. Only allowed when
  // meterd starts on a loopback address with no key ever created in keys.db; it ends for good once any key is
  // seen, so revoking every key locks everyone out instead of opening the server. Call before serving.
  void allow_open_mode(bool allowed);
  bool open_mode() const;

  // In open mode, an anonymous admin. Otherwise the Authorization header must be
  // "Bearer <key>" (the scheme in any case) naming an active key.
  Result<Principal> authenticate(std::string_view authorization);

  std::size_t active_keys() const;

 private:
  struct Snapshot {
    std::unordered_map<std::string, Principal> by_hash;
  };
  void refresh_if_due();
  Status reload() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mutex_);

  const Clock& clock_;
  std::chrono::milliseconds interval_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<std::int64_t> next_check_ms_{0};
  std::atomic<bool> open_allowed_{false};
  Mutex reload_mutex_;  // one refresher at a time
  std::unique_ptr<KeyStore> store_ ABSL_GUARDED_BY(reload_mutex_);
  std::int64_t seen_version_ ABSL_GUARDED_BY(reload_mutex_) = -1;
  bool any_key_ever_ ABSL_GUARDED_BY(reload_mutex_) = false;  // keys.db holds a key, revoked or not
};

}  // namespace meter::auth

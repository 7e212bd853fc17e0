#include "auth/authenticator.h"

#include <spdlog/spdlog.h>

#include "auth/api_key.h"

namespace meter::auth {

Authenticator::Authenticator(std::filesystem::path keys_path, const Clock& clock,
                             std::chrono::milliseconds refresh)
    : path_(std::move(keys_path)), clock_(clock), interval_(refresh) {
  snapshot_.store(std::make_shared<const Snapshot>());
}

void Authenticator::load() {
  std::lock_guard lock(reload_mutex_);
  store_ = std::make_unique<KeyStore>(path_);
  reload();
}

void Authenticator::reload() {
  std::int64_t version = store_->version();
  if (version == seen_version_) return;
  auto keys = store_->list();
  if (!keys) {
    spdlog::error("cannot re-read API keys, keeping the previous set: {}", keys.error().message);
    return;
  }
  auto next = std::make_shared<Snapshot>();
  for (const KeyRecord& k : *keys) {
    if (k.revoked_at) continue;
    next->by_hash.emplace(k.hash, Principal{k.admin, k.tenant_id, k.key_id});
  }
  if (seen_version_ >= 0) spdlog::info("API keys changed: {} active", next->by_hash.size());
  snapshot_.store(std::move(next));
  seen_version_ = version;
}

void Authenticator::refresh_if_due() {
  std::int64_t now = to_unix_ms(clock_.now());
  std::int64_t due = next_check_ms_.load(std::memory_order_relaxed);
  if (now < due) return;
  std::unique_lock lock(reload_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || !store_) return;  // another thread is refreshing
  next_check_ms_.store(now + interval_.count(), std::memory_order_relaxed);
  try {
    reload();
  } catch (const std::exception& e) {
    spdlog::error("cannot re-read API keys, keeping the previous set: {}", e.what());
  }
}

std::size_t Authenticator::active_keys() const { return snapshot_.load()->by_hash.size(); }

Result<Principal> Authenticator::authenticate(std::string_view authorization) {
  refresh_if_due();
  auto snapshot = snapshot_.load();
  if (snapshot->by_hash.empty()) return Principal{true, "", ""};
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return fail(Error{ErrorCode::kUnauthenticated, "send an API key: Authorization: Bearer mk_...", "authorization"});
  }
  if (!authorization.starts_with(kBearer)) {
    return fail(Error{ErrorCode::kUnauthenticated, "the Authorization header must be 'Bearer <key>'", "authorization"});
  }
  std::string_view key = authorization.substr(kBearer.size());
  if (looks_like_key(key)) {
    auto it = snapshot->by_hash.find(sha256_hex(key));
    if (it != snapshot->by_hash.end()) return it->second;
  }
  return fail(Error{ErrorCode::kUnauthenticated, "the API key is unknown or revoked", "authorization"});
}

}  // namespace meter::auth

#include "auth/authenticator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "auth/api_key.h"

namespace meter::auth {

Authenticator::Authenticator(std::unique_ptr<KeyStore> store, const Clock& clock,
                             std::chrono::milliseconds refresh)
    : clock_(clock), interval_(refresh), store_(std::move(store)) {
  snapshot_.store(std::make_shared<const Snapshot>());
}

Status Authenticator::load() {
  MutexLock lock(reload_mutex_);
  return reload();
}

Status Authenticator::reload() {
  auto version = store_->version();
  if (!version) return fail(version.error());
  if (*version == seen_version_) return {};
  auto keys = store_->list();
  if (!keys) return fail(keys.error());
  auto next = std::make_shared<Snapshot>();
  for (const KeyRecord& k : *keys) {
    if (k.revoked_at) continue;
    next->by_hash.emplace(k.hash, Principal{k.admin, k.tenant_id, k.key_id});
  }
  if (seen_version_ >= 0) spdlog::info("API keys changed: {} active", next->by_hash.size());
  if (!keys->empty()) any_key_ever_ = true;
  if (!keys->empty() && open_allowed_.exchange(false)) {
    spdlog::info("API keys exist now: every request needs one from here on, also if they are all revoked");
  }
  snapshot_.store(std::move(next));
  seen_version_ = *version;
  return {};
}

void Authenticator::refresh_if_due() {
  std::int64_t now = to_unix_ms(clock_.now());
  std::int64_t due = next_check_ms_.load(std::memory_order_relaxed);
  if (now < due) return;
  if (!reload_mutex_.try_lock()) return;  // another thread is refreshing
  MutexLock lock(reload_mutex_, std::adopt_lock);
  next_check_ms_.store(now + interval_.count(), std::memory_order_relaxed);
  if (auto s = reload(); !s)
    spdlog::error("cannot re-read API keys, keeping the previous set: {}", s.error().message);
}

void Authenticator::allow_open_mode(bool allowed) {
  MutexLock lock(reload_mutex_);
  open_allowed_ = allowed && !any_key_ever_;
}

bool Authenticator::open_mode() const { return open_allowed_.load() && snapshot_.load()->by_hash.empty(); }

std::size_t Authenticator::active_keys() const { return snapshot_.load()->by_hash.size(); }

Result<Principal> Authenticator::authenticate(std::string_view authorization) {
  refresh_if_due();
  auto snapshot = snapshot_.load();
  if (snapshot->by_hash.empty() && open_allowed_.load()) return Principal{true, "", ""};
  if (authorization.empty()) {
    if (snapshot->by_hash.empty()) {
      return fail(
          Error{ErrorCode::kUnauthenticated,
                "no API key is active on this server; an admin creates one with: meterd keys create --admin",
                "authorization"});
    }
    return fail(
        Error{ErrorCode::kUnauthenticated, "send an API key: Authorization: Bearer mk_...", "authorization"});
  }
  // RFC 9110: the scheme is case-insensitive; one or more spaces separate it from the token.
  constexpr std::string_view kBearer = "bearer";
  bool bearer = authorization.size() > kBearer.size() && authorization[kBearer.size()] == ' ' &&
                std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                           [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  if (!bearer) {
    return fail(Error{ErrorCode::kUnauthenticated, "the Authorization header must be 'Bearer <key>'",
                      "authorization"});
  }
  std::string_view key = authorization.substr(kBearer.size());
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  if (looks_like_key(key)) {
    auto it = snapshot->by_hash.find(sha256_hex(key));
    if (it != snapshot->by_hash.end()) return it->second;
  }
  return fail(Error{ErrorCode::kUnauthenticated, "the API key is unknown or revoked", "authorization"});
}

}  // namespace meter::auth

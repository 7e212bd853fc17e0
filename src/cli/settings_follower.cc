#include "cli/settings_follower.h"

#include <spdlog/spdlog.h>

#include "cli/stores.h"

namespace meter::cli {

Status SettingsFollower::poll() {
  auto changes = store_.settings_changed_since(seen_);
  if (!changes) return fail(changes.error());
  apply_quota_settings(changes->changed, book_);
  if (on_settings_ && !changes->changed.empty()) on_settings_(changes->changed);
  if (ledger_ != nullptr) {
    auto credits = ledger_->changed_since(credits_seen_);
    if (!credits) return fail(credits.error());
    if (!credits->tenants.empty()) on_credits_(std::move(credits->tenants));
    credits_seen_ = credits->version;
  }
  if (seen_ > 0 && !changes->changed.empty()) {
    spdlog::info("quota settings of {} tenant(s) changed through another node", changes->changed.size());
  }
  seen_ = changes->version;
  return {};
}

void SettingsFollower::follow(OnSettings settings, store::CreditLedger* ledger, OnCredits credits) {
  on_settings_ = std::move(settings);
  // From the changes after now: what is stored already was loaded at start.
  if (ledger != nullptr) {
    auto now = ledger->changed_since(-1);
    credits_seen_ = now ? now->version : 0;
  }
  ledger_ = ledger;
  on_credits_ = std::move(credits);
}

void SettingsFollower::start() {
  thread_ = std::thread([this] { run(); });
}

void SettingsFollower::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SettingsFollower::run() {
  bool failing = false;
  while (true) {
    {
      MutexLock lock(mutex_);
      if (stopping_) return;
      (void)wake_.wait_for(mutex_, interval_);
      if (stopping_) return;
    }
    auto s = poll();
    if (!s && !failing) spdlog::warn("cannot follow tenant settings (retrying): {}", s.error().message);
    if (s && failing) spdlog::info("following tenant settings again");
    failing = !s;
  }
}

}  // namespace meter::cli

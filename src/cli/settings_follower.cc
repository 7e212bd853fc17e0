#include "cli/settings_follower.h"

#include <spdlog/spdlog.h>

#include "cli/stores.h"

namespace meter::cli {

Status SettingsFollower::poll() {
  auto changes = store_.settings_changed_since(seen_);
  if (!changes) return fail(changes.error());
  apply_quota_settings(changes->changed, book_);
  if (seen_ > 0 && !changes->changed.empty()) {
    spdlog::info("quota settings of {} tenant(s) changed through another node", changes->changed.size());
  }
  seen_ = changes->version;
  return {};
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

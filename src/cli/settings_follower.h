#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "core/error.h"
#include "core/sync.h"
#include "quota/quota_book.h"
#include "store/postgres/pg_store.h"

namespace meter::cli {

// Keeps this node's quota book in step with tenant settings changed through any node of a
// shared PostgreSQL store: a thread polls the change counter every `interval` (one small query;
// rows come only when something changed) and applies what changed. Plans and finalized invoices
// need no following: they are read from the store on every use.
class SettingsFollower {
 public:
  SettingsFollower(store::postgres::PgStore& store, quota::QuotaBook& book,
                   std::chrono::milliseconds interval = std::chrono::milliseconds(250))
      : store_(store), book_(book), interval_(interval) {}
  ~SettingsFollower() { stop(); }
  SettingsFollower(const SettingsFollower&) = delete;
  SettingsFollower& operator=(const SettingsFollower&) = delete;

  // Every tenant's settings into the book; call before serving.
  Status load() { return poll(); }
  // Also tells what other nodes change from now on: `settings` the tenants whose settings
  // changed (their plans), `credits` those whose prepaid credit did (store/credit_ledger.h).
  using OnSettings = std::function<void(const std::vector<std::pair<std::string, store::TenantSettings>>&)>;
  using OnCredits = std::function<void(std::vector<std::string>)>;
  void follow(OnSettings settings, store::CreditLedger* ledger, OnCredits credits);
  // Follows in a thread of its own until stop().
  void start();
  void stop();

 private:
  Status poll();
  void run();

  store::postgres::PgStore& store_;
  quota::QuotaBook& book_;
  std::chrono::milliseconds interval_;
  std::int64_t seen_ = 0;  // used by load() before the thread starts, then by the thread only
  OnSettings on_settings_;
  store::CreditLedger* ledger_ = nullptr;
  OnCredits on_credits_;
  std::int64_t credits_seen_ = 0;
  Mutex mutex_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace meter::cli

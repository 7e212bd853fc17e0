#pragma once

#include <chrono>
#include <cstdint>
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
  Mutex mutex_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace meter::cli

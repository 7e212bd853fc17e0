#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/sync.h"
#include "store/postgres/pg_store.h"

namespace meter::store::postgres {

// The notification channel every group's transaction notifies at commit, with its tenants
// (one per line) or "*" when they do not fit in a payload.
inline constexpr const char* kUsageChannel = "meterd_usage";

// A node's cache of tenants' stored usage (PgStore::stored_usage, what /quota/check reads),
// kept exact by PostgreSQL's notifications: a listener thread LISTENs on kUsageChannel and
// drops a tenant's entry when a group that stored its events commits, on any node. Nothing is
// cached while the listener is not connected, and an answer read while a notification for its
// tenant arrived is not kept, so a cached answer includes every commit whose notification has
// been received.
//
// Thread-safety: stored_usage() may be called from any thread.
class UsageCache {
 public:
  UsageCache(PgStore& store, std::string url, std::chrono::milliseconds timeout,
             std::size_t max_tenants = 10'000);
  ~UsageCache();
  UsageCache(const UsageCache&) = delete;
  UsageCache& operator=(const UsageCache&) = delete;

  void start();
  void stop();

  Result<std::vector<Decimal>> stored_usage(std::string_view tenant, std::span<const UsageWindow> windows);
  // The cached answer, if there is one; never reads PostgreSQL (safe on an event loop).
  std::optional<std::vector<Decimal>> cached(std::string_view tenant, std::span<const UsageWindow> windows);

  std::uint64_t hits() const { return hits_.load(); }
  bool listening() const;

 private:
  struct Entry {
    std::string windows;  // what was asked (window_key())
    std::vector<Decimal> values;
  };
  struct Reading {  // a tenant with reads in flight, and the notifications that came meanwhile
    int readers = 0;
    std::uint64_t notified = 0;
  };
  void run();
  void forget_all() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void notified(std::string_view payload) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  PgStore& store_;
  std::string url_;
  std::chrono::milliseconds timeout_;
  std::size_t max_tenants_;

  mutable Mutex mutex_;
  bool listening_ ABSL_GUARDED_BY(mutex_) = false;
  std::uint64_t epoch_ ABSL_GUARDED_BY(mutex_) = 0;  // bumped when everything is forgotten
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mutex_);
  std::unordered_map<std::string, Reading> reading_ ABSL_GUARDED_BY(mutex_);
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> hits_{0};
  std::thread thread_;
};

}  // namespace meter::store::postgres

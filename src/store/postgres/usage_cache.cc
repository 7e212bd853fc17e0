#include "store/postgres/usage_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace meter::store::postgres {
namespace {

// What a read asked for, as one comparable string.
std::string window_key(std::span<const UsageWindow> windows) {
  std::string key;
  for (const UsageWindow& w : windows) {
    for (std::string_view t : w.types) fmt::format_to(std::back_inserter(key), "{},", t);
    fmt::format_to(std::back_inserter(key), "|{}|{}|{};", to_unix_ms(w.from), to_unix_ms(w.to), w.peak);
  }
  return key;
}

}  // namespace

UsageCache::UsageCache(PgStore& store, std::string url, std::chrono::milliseconds timeout,
                       std::size_t max_tenants)
    : store_(store), url_(std::move(url)), timeout_(timeout), max_tenants_(max_tenants) {}

UsageCache::~UsageCache() { stop(); }

void UsageCache::start() {
  thread_ = std::thread([this] { run(); });
}

void UsageCache::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

bool UsageCache::listening() const {
  MutexLock lock(mutex_);
  return listening_;
}

std::optional<std::vector<Decimal>> UsageCache::cached(std::string_view tenant,
                                                       std::span<const UsageWindow> windows) {
  std::string key = window_key(windows);
  MutexLock lock(mutex_);
  if (!listening_) return std::nullopt;
  auto it = entries_.find(std::string(tenant));
  if (it == entries_.end() || it->second.windows != key) return std::nullopt;
  ++hits_;
  return it->second.values;
}

Result<std::vector<Decimal>> UsageCache::stored_usage(std::string_view tenant,
                                                      std::span<const UsageWindow> windows) {
  if (auto hit = cached(tenant, windows)) return std::move(*hit);
  std::string key = window_key(windows);
  std::string name(tenant);
  std::uint64_t epoch = 0, notified = 0;
  {
    MutexLock lock(mutex_);
    if (!listening_) return store_.stored_usage(tenant, windows);
    epoch = epoch_;
    Reading& r = reading_[name];
    ++r.readers;
    notified = r.notified;
  }
  auto values = store_.stored_usage(tenant, windows);
  MutexLock lock(mutex_);
  auto r = reading_.find(name);
  bool fresh = listening_ && epoch_ == epoch && r->second.notified == notified;
  if (--r->second.readers == 0) reading_.erase(r);
  if (values && fresh) {
    if (entries_.size() >= max_tenants_) entries_.clear();  // bounded; refilled by the next reads
    entries_[name] = Entry{std::move(key), *values};
  }
  return values;
}

void UsageCache::forget_all() {
  entries_.clear();
  ++epoch_;
}

void UsageCache::notified(std::string_view payload) {
  if (payload == "*") {
    forget_all();
    return;
  }
  while (!payload.empty()) {
    auto end = payload.find('\n');
    std::string tenant(payload.substr(0, end));
    entries_.erase(tenant);
    if (auto r = reading_.find(tenant); r != reading_.end()) ++r->second.notified;
    payload = end == std::string_view::npos ? std::string_view() : payload.substr(end + 1);
  }
}

void UsageCache::run() {
  std::unique_ptr<Connection> conn;
  while (!stopping_) {
    if (!conn) {
      auto opened = Connection::open(url_, timeout_);
      if (opened && (*opened)->exec(fmt::format("LISTEN {}", kUsageChannel))) {
        conn = std::move(*opened);
        MutexLock lock(mutex_);
        forget_all();  // what was committed while nobody listened is unknown
        listening_ = true;
      } else {
        for (int i = 0; i < 10 && !stopping_; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
    }
    auto payloads = conn->notifications(std::chrono::milliseconds(200));
    MutexLock lock(mutex_);
    if (!payloads) {
      spdlog::warn("{}; /quota/check reads PostgreSQL on every request until it reconnects",
                   payloads.error().message);
      listening_ = false;
      forget_all();
      conn.reset();
      continue;
    }
    for (const std::string& p : *payloads) notified(p);
  }
  MutexLock lock(mutex_);
  listening_ = false;
  forget_all();
}

}  // namespace meter::store::postgres

#pragma once

#include <atomic>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "quota/alert.h"
#include "store/store.h"

namespace meter::notify {

struct WebhookOptions {
  std::string url;     // empty: alerts are recorded, not sent
  std::string secret;  // HMAC-SHA256 key for the X-Meterd-Signature header
  int max_attempts = 6;
  std::chrono::milliseconds first_backoff = std::chrono::seconds(1);  // doubles per attempt
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  std::size_t max_queued = 10'000;
};

// Records each quota alert (once per tenant, meter, period and threshold) and POSTs it as JSON
// to the webhook, signed `X-Meterd-Signature: sha256=<hex HMAC-SHA256 of the body>`, retrying
// with exponential backoff. fire() only queues: a slow or dead webhook never holds ingestion.
// Owns one thread, started by the constructor and joined by the destructor.
class WebhookNotifier final : public quota::AlertSink {
 public:
  WebhookNotifier(store::Store& store, WebhookOptions options);
  ~WebhookNotifier() override;

  void fire(quota::Alert alert) override;
  // Alerts fired (each threshold once per tenant, meter and period) and webhook deliveries failed.
  std::uint64_t fired() const { return fired_.load(); }
  std::uint64_t failed_deliveries() const { return failed_.load(); }

 private:
  std::atomic<std::uint64_t> fired_{0};
  std::atomic<std::uint64_t> failed_{0};
  void run();
  void deliver(const quota::Alert& alert);
  bool post(const std::string& body, std::string& error) const;

  store::Store& store_;
  WebhookOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<quota::Alert> queue_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;           // GUARDED_BY(mutex_)
  std::thread thread_;
};

// The webhook's body for an alert, and its signature.
std::string alert_json(const quota::Alert& alert, std::int64_t id);
std::string hmac_sha256_hex(const std::string& key, const std::string& body);

}  // namespace meter::notify

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "core/sync.h"
#include "credits/notice.h"
#include "quota/alert.h"
#include "store/credit_ledger.h"
#include "store/tenant_records.h"

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
// to the webhook, signed (below), retrying with exponential backoff. fire() records the alert
// durably on the calling thread (the ingest writer, right after the group that crossed the
// threshold is stored and before its requests are answered) and queues the delivery: a slow or
// dead webhook never holds ingestion. Deliveries still pending when meterd stops or dies are
// resumed by resume() at the next start. Owns one thread, started by the constructor and joined
// by the destructor.
//
// Signature: `X-Meterd-Timestamp: <unix seconds>` and `X-Meterd-Signature: sha256=<hex
// HMAC-SHA256 of "<timestamp>.<body>">`, so a receiver can refuse replays older than a few
// minutes (as Stripe and Svix sign). Only http and https webhook URLs are accepted.
class WebhookNotifier final : public quota::AlertSink {
 public:
  WebhookNotifier(store::TenantRecords& store, WebhookOptions options);
  ~WebhookNotifier() override;

  // Checks the URL: http or https only (libcurl would also speak gopher, file, ...).
  static Status check_url(const std::string& url);

  void fire(quota::Alert alert) override;
  // Credit notices, recorded in `ledger` (by the group that fired them): sent the same way, their
  // delivery recorded there. Set before resume().
  void attach_credit_notices(store::CreditLedger& ledger) { credit_ledger_ = &ledger; }
  void send(std::vector<credits::Notice> notices);
  // Queues the deliveries a previous run left pending. Call once at start.
  void resume();
  // Alerts fired (each threshold once per tenant, meter and period) and webhook deliveries failed.
  std::uint64_t fired() const { return fired_.load(); }
  std::uint64_t credit_notices() const { return notices_.load(); }
  std::uint64_t failed_deliveries() const { return failed_.load(); }

 private:
  std::atomic<std::uint64_t> fired_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> notices_{0};
  void run();
  // A quota alert (by id) or a credit notice (by notice_id, with its body).
  struct Delivery {
    std::int64_t id = 0;
    quota::Alert alert;
    std::string notice_id;
    std::string body;
    int attempts = 0;  // made before this run
  };
  void deliver(const Delivery& d);
  void mark(const Delivery& d, std::string_view delivery, int attempts);
  void enqueue(std::vector<Delivery> deliveries);
  bool post(const std::string& body, std::string& error) const;

  store::TenantRecords& store_;
  store::CreditLedger* credit_ledger_ = nullptr;
  WebhookOptions options_;
  Mutex mutex_;
  CondVar wake_;
  std::deque<Delivery> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

// The webhook's body for an alert, and its signature.
std::string alert_json(const quota::Alert& alert, std::int64_t id);
std::string hmac_sha256_hex(const std::string& key, const std::string& body);
// X-Meterd-Signature's value for a body sent at `unix_seconds`.
std::string webhook_signature(const std::string& secret, std::int64_t unix_seconds, const std::string& body);

}  // namespace meter::notify

#include "notify/webhook_notifier.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "net/http_client.h"

namespace meter::notify {

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string alert_json(const quota::Alert& a, std::int64_t id) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("id");
  w.Int64(id);
  str("type", "quota.threshold");
  str("tenant_id", a.tenant_id);
  str("meter", std::string(quota::meter_name(a.meter)));
  str("period", a.period == quota::Period::kDay ? "day" : "month");
  str("period_start", format_rfc3339(a.period_start));
  w.Key("threshold_percent");
  w.Int(a.threshold_percent);
  str("used", a.used.to_string());
  str("limit", a.limit.to_string());
  str("fired_at", format_rfc3339(a.fired_at));
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

WebhookNotifier::WebhookNotifier(store::TenantRecords& store, WebhookOptions options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

WebhookNotifier::~WebhookNotifier() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Status WebhookNotifier::check_url(const std::string& url) {
  if (url.empty() || url.starts_with("http://") || url.starts_with("https://")) return {};
  return fail(
      Error::invalid("quota.webhook_url", "quota.webhook_url must start with http:// or https://: " + url));
}

std::string webhook_signature(const std::string& secret, std::int64_t unix_seconds, const std::string& body) {
  return "sha256=" + hmac_sha256_hex(secret, std::to_string(unix_seconds) + "." + body);
}

void WebhookNotifier::fire(quota::Alert alert) {
  auto id = store_.record_alert(alert);
  if (!id) {
    spdlog::error("cannot record a quota alert: {}", id.error().message);
    return;
  }
  if (!*id) return;  // already fired for this tenant, meter, period and threshold
  spdlog::info("quota alert: tenant {} at {}% of its {} {} limit ({} of {})", alert.tenant_id,
               alert.threshold_percent, quota::meter_name(alert.meter),
               alert.period == quota::Period::kDay ? "daily" : "monthly", alert.used.to_string(),
               alert.limit.to_string());
  ++fired_;
  if (options_.url.empty()) {
    (void)store_.update_alert_delivery(**id, "no webhook", 0);
    return;
  }
  {
    MutexLock lock(mutex_);
    if (queue_.size() >= options_.max_queued) return;  // recorded as pending: resumed at the next start
    queue_.push_back({**id, std::move(alert), 0});
  }
  wake_.notify_one();
}

void WebhookNotifier::resume() {
  if (options_.url.empty()) return;
  auto pending = store_.list_alerts("", options_.max_queued, true);
  if (!pending) {
    spdlog::error("cannot read the pending quota alerts: {}", pending.error().message);
    return;
  }
  if (pending->empty()) return;
  spdlog::info("resuming the webhook delivery of {} quota alert(s) left pending by the last run",
               pending->size());
  {
    MutexLock lock(mutex_);
    for (auto it = pending->rbegin(); it != pending->rend(); ++it)
      queue_.push_back({it->id, it->alert, it->attempts});
  }
  wake_.notify_one();
}

void WebhookNotifier::run() {
  MutexLock lock(mutex_);
  for (;;) {
    while (!stopping_ && queue_.empty()) wake_.wait(mutex_);
    if (stopping_) return;  // what is queued stays pending in the store: resume() picks it up
    Delivery next = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    deliver(next);
    lock.lock();
  }
}

void WebhookNotifier::deliver(const Delivery& d) {
  std::string body = alert_json(d.alert, d.id);
  auto backoff = options_.first_backoff;
  for (int attempt = d.attempts + 1; attempt <= options_.max_attempts; ++attempt) {
    std::string error;
    if (post(body, error)) {
      (void)store_.update_alert_delivery(d.id, "delivered", attempt);
      return;
    }
    spdlog::warn("webhook {} attempt {}/{} failed: {}", options_.url, attempt, options_.max_attempts, error);
    (void)store_.update_alert_delivery(d.id, attempt == options_.max_attempts ? "failed" : "pending",
                                       attempt);
    if (attempt == options_.max_attempts) ++failed_;
    MutexLock lock(mutex_);
    auto until = std::chrono::steady_clock::now() + backoff;
    while (!stopping_ && wake_.wait_until(mutex_, until)) {
    }
    if (stopping_) return;
    backoff *= 2;
  }
  if (d.attempts >= options_.max_attempts) (void)store_.update_alert_delivery(d.id, "failed", d.attempts);
}

bool WebhookNotifier::post(const std::string& body, std::string& error) const {
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  net::HttpRequest request;
  request.method = "POST";
  request.url = options_.url;
  request.headers = {"Content-Type: application/json", "X-Meterd-Timestamp: " + std::to_string(now.count()),
                     "X-Meterd-Signature: " + webhook_signature(options_.secret, now.count(), body)};
  request.body = body;
  request.timeout = options_.timeout;
  net::HttpClient client;
  auto response = client.send(request);
  if (!response) {
    error = response.error().message;
    return false;
  }
  if (response->status < 200 || response->status >= 300) {
    error = fmt::format("HTTP {}", response->status);
    return false;
  }
  return true;
}

}  // namespace meter::notify

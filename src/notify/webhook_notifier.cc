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
  std::vector<Delivery> one;
  one.push_back({**id, std::move(alert), "", "", 0});
  enqueue(std::move(one));
}

void WebhookNotifier::send(std::vector<credits::Notice> notices) {
  std::vector<Delivery> deliveries;
  for (auto& n : notices) {
    spdlog::info("credit notice: {} for tenant {}", n.type, n.tenant_id);
    ++notices_;
    deliveries.push_back({0, {}, std::move(n.id), std::move(n.body), 0});
  }
  enqueue(std::move(deliveries));
}

void WebhookNotifier::enqueue(std::vector<Delivery> deliveries) {
  if (options_.url.empty()) {
    for (const auto& d : deliveries) mark(d, "no webhook", 0);
    return;
  }
  {
    MutexLock lock(mutex_);
    for (auto& d : deliveries) {
      if (queue_.size() >= options_.max_queued) break;  // recorded as pending: resumed at the next start
      queue_.push_back(std::move(d));
    }
  }
  wake_.notify_one();
}

void WebhookNotifier::mark(const Delivery& d, std::string_view delivery, int attempts) {
  if (!d.notice_id.empty()) {
    if (credit_ledger_ != nullptr)
      (void)credit_ledger_->update_notice_delivery(d.notice_id, delivery, attempts);
    return;
  }
  (void)store_.update_alert_delivery(d.id, delivery, attempts);
}

void WebhookNotifier::resume() {
  if (options_.url.empty()) return;
  std::vector<Delivery> deliveries;
  auto pending = store_.list_alerts("", options_.max_queued, true);
  if (!pending) {
    spdlog::error("cannot read the pending quota alerts: {}", pending.error().message);
  } else {
    for (auto it = pending->rbegin(); it != pending->rend(); ++it)
      deliveries.push_back({it->id, it->alert, "", "", it->attempts});
  }
  if (credit_ledger_ != nullptr) {
    auto notices = credit_ledger_->notices("", options_.max_queued, true);
    if (!notices) {
      spdlog::error("cannot read the pending credit notices: {}", notices.error().message);
    } else {
      for (auto it = notices->rbegin(); it != notices->rend(); ++it)
        deliveries.push_back({0, {}, it->notice.id, it->notice.body, it->attempts});
    }
  }
  if (deliveries.empty()) return;
  spdlog::info("resuming the webhook delivery of {} alert(s) and notice(s) left pending by the last run",
               deliveries.size());
  enqueue(std::move(deliveries));
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
  std::string body = d.notice_id.empty() ? alert_json(d.alert, d.id) : d.body;
  auto backoff = options_.first_backoff;
  for (int attempt = d.attempts + 1; attempt <= options_.max_attempts; ++attempt) {
    std::string error;
    if (post(body, error)) {
      mark(d, "delivered", attempt);
      return;
    }
    spdlog::warn("webhook {} attempt {}/{} failed: {}", options_.url, attempt, options_.max_attempts, error);
    mark(d, attempt == options_.max_attempts ? "failed" : "pending", attempt);
    if (attempt == options_.max_attempts) ++failed_;
    MutexLock lock(mutex_);
    auto until = std::chrono::steady_clock::now() + backoff;
    while (!stopping_ && wake_.wait_until(mutex_, until)) {
    }
    if (stopping_) return;
    backoff *= 2;
  }
  if (d.attempts >= options_.max_attempts) mark(d, "failed", d.attempts);
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

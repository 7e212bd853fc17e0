#pragma once

#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include "billing/invoicer.h"
#include "core/clock.h"
#include "ingest/cloud_event.h"
#include "ingest/credit_calendar.h"
#include "ingest/credit_service.h"
#include "ingest/ingestor.h"
#include "ingest/limits.h"
#include "ingest/rate_limiter.h"
#include "ingest/shipper.h"
#include "notify/webhook_notifier.h"
#include "pricing/price_book.h"
#include "quota/quota_book.h"
#include "server/metrics.h"
#include "server/router.h"
#include "store/event_log.h"
#include "store/tenant_records.h"
#include "store/usage_store.h"
#include "store/usage_window.h"

namespace meter::server {

// What the HTTP routes need from the rest of meterd. Everything referenced outlives the server.
struct ApiContext {
  ingest::Ingestor& ingestor;
  store::UsageStore& usage;
  store::TenantRecords& records;
  const Clock& clock;
  ingest::IngestLimits limits;
  std::string version;
  Timestamp started_at;
  const pricing::PriceBook& price_book;
  quota::QuotaBook& quotas;
  ingest::RateLimiter* rate_limiter = nullptr;  // per-tenant ingest limit; null = none
  ingest::Shipper* shipper = nullptr;           // shipping to ClickHouse; null = embedded store only
  billing::Invoicer& invoicer;
  RejectCounts& rejects;
  const notify::WebhookNotifier* notifier = nullptr;
  std::filesystem::path web_dir;  // openapi.json, docs.html, node_modules/ (npm)
  // With a store several nodes share: what a tenant stored in each window, by every node, so
  // that quota answers count other nodes' events too. Empty: this node's counters are the whole
  // truth.
  std::function<Result<std::vector<Decimal>>(std::string_view tenant,
                                             std::span<const store::UsageWindow> windows)>
      stored_usage;
  // The same from memory when the node has it (never blocks; nullopt: ask stored_usage).
  std::function<std::optional<std::vector<Decimal>>(std::string_view tenant,
                                                    std::span<const store::UsageWindow> windows)>
      cached_usage;
  ingest::CloudEventMappings cloud_events;  // how CloudEvents become events
  // Where corrections find the events they name (docs/corrections.md); null: not supported
  // with this configuration yet.
  store::EventLog* log = nullptr;
  std::chrono::days correction_window{0};  // 0: until the event's month is finalized
  // What issues adjustment notes: an invoicer over the log's own rows, which hold a correction
  // as soon as it is stored (ClickHouse has it only once shipped). Null: `invoicer`.
  billing::Invoicer* adjuster = nullptr;
  // Prepaid credit (docs/credits.md); null: not supported with this store yet.
  ingest::CreditService* credits = nullptr;
  // Books a recurring rule's lots as soon as it is created (with `credits`).
  ingest::CreditCalendar* credit_calendar = nullptr;
};

// Each adds one group of endpoints; web/openapi.json (served at /docs) says what they do.
void add_health_routes(Router& router, const ApiContext& api);
void add_ingest_routes(Router& router, const ApiContext& api);
void add_usage_routes(Router& router, const ApiContext& api);
void add_quota_routes(Router& router, const ApiContext& api);
void add_invoice_routes(Router& router, const ApiContext& api);
void add_metrics_routes(Router& router, const ApiContext& api);
void add_web_routes(Router& router, const ApiContext& api);
void add_correction_routes(Router& router, const ApiContext& api);
void add_credit_routes(Router& router, const ApiContext& api);
void add_credit_rule_routes(Router& router, const ApiContext& api);

}  // namespace meter::server

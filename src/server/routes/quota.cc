// Quota endpoints: the Python service's /quota/set and /quota/check, and /v1/tenants/{tenant}/quotas.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "core/identifier.h"
#include "quota/status.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/params.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

void write_limit(JsonOut& out, std::string_view key, const std::optional<Decimal>& value) {
  out.key(key);
  if (value)
    out.dec(*value);
  else
    out.null();
}

void write_settings(JsonOut& out, const quota::TenantQuota& q) {
  out.key("time_zone").str(q.time_zone);
  out.key("enforcement").str(quota::enforcement_name(q.enforcement));
  using quota::Meter;
  write_limit(out, "queries_per_day", q[Meter::kQueries].per_day);
  write_limit(out, "queries_per_month", q[Meter::kQueries].per_month);
  write_limit(out, "tokens_per_day", q[Meter::kTokens].per_day);
  write_limit(out, "tokens_per_month", q[Meter::kTokens].per_month);
  write_limit(out, "storage_gb", q[Meter::kStorageGb].per_day);
  write_limit(out, "storage_gb_per_month", q[Meter::kStorageGb].per_month);
}

// Applies a quota body (the Python service's fields plus monthly limits, time_zone and enforcement) on
// top of the tenant's current settings, stores them, and answers with the result.
HttpResponse update_quota(const ApiContext& api, const std::string& tenant, const JsonBody& body) {
  using quota::Meter;
  auto apply = [&](quota::TenantQuota& q) -> Status {
    std::pair<const char*, std::optional<Decimal>*> fields[] = {
        {"queries_per_day", &q[Meter::kQueries].per_day},
        {"queries_per_month", &q[Meter::kQueries].per_month},
        {"tokens_per_day", &q[Meter::kTokens].per_day},
        {"tokens_per_month", &q[Meter::kTokens].per_month},
        {"storage_gb", &q[Meter::kStorageGb].per_day},
        {"storage_gb_per_month", &q[Meter::kStorageGb].per_month}};
    for (auto [key, field] : fields) {
      auto value = body.decimal(key);
      if (!value) return fail(value.error());
      if (*value) *field = **value;
    }
    auto zone = body.string("time_zone");
    if (!zone) return fail(zone.error());
    if (*zone) q.time_zone = **zone;
    auto mode = body.string("enforcement");
    if (!mode) return fail(mode.error());
    if (*mode) {
      auto parsed = quota::parse_enforcement(**mode);
      if (!parsed) return fail(Error::invalid("enforcement", "enforcement must be soft or hard"));
      q.enforcement = *parsed;
    }
    if (auto found = quota::Zone::find(q.time_zone); !found) return fail(found.error());
    return {};
  };
  auto stored = api.records.update_settings(tenant, [&](store::TenantSettings& s) {
    if (!s.quota) s.quota = api.quotas.defaults();
    return apply(*s.quota);
  });
  if (!stored) return problem(stored.error());
  const quota::TenantQuota& q = *stored->quota;
  if (auto s = api.quotas.set(tenant, q); !s) return problem(s.error());
  if (auto s = api.usage.mirror_quota(tenant, q); !s) {
    spdlog::warn("quota of {} saved, not mirrored to {}: {}", tenant, api.usage.name(), s.error().message);
  }
  JsonOut out;
  out.begin_object();
  out.key("status").str("updated");
  out.key("tenant_id").str(tenant);
  write_settings(out, q);
  out.end_object();
  return out.response();
}

// The fields a quota body may have; the Python service's body names the tenant too (first entry).
constexpr std::string_view kQuotaFields[] = {
    "tenant_id",  "queries_per_day",      "queries_per_month", "tokens_per_day", "tokens_per_month",
    "storage_gb", "storage_gb_per_month", "time_zone",         "enforcement"};

Status check_quota_fields(const JsonBody& body, bool with_tenant) {
  std::span<const std::string_view> fields(kQuotaFields);
  return body.only(with_tenant ? fields : fields.subspan(1));
}

void quota_set(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = check_quota_fields(*body, true); !s) return respond(problem(s.error()));
  auto tenant = body_tenant(*body, request);
  if (!tenant) return respond(problem(tenant.error()));
  respond(update_quota(api, *tenant, *body));
}

void write_statuses(JsonOut& out, const std::vector<quota::QuotaStatus>& statuses, quota::Period period) {
  out.key("quotas").begin_object();
  for (const auto& s : statuses) {
    if (s.period != period) continue;
    out.key(quota::meter_name(s.meter)).begin_object();
    out.key("used").dec(s.used);
    write_limit(out, "limit", s.limit);
    write_limit(out, "remaining", s.remaining);
    out.key("exceeded").boolean(s.exceeded);
    out.key("at_limit").boolean(s.limit && s.used >= *s.limit);
    out.end_object();
  }
  out.end_object();
}

// The live quota status of one tenant: the Python service's /quota/check answer, also GET
// /v1/tenants/{t}/quotas.
// How a quota answer may learn what other nodes stored: by reading the shared store (blocks),
// or only from the node's cache (nullopt when it does not hold the tenant). Without a shared
// store both answer from the node's counters.
enum class Lookup { kMayBlock, kCacheOnly };

std::optional<HttpResponse> quota_report(const ApiContext& api, const std::string& tenant,
                                         Lookup lookup = Lookup::kMayBlock) {
  auto entry = api.quotas.get(tenant);
  Timestamp now = api.clock.now();
  auto statuses = quota::quota_status(api.quotas, tenant, now);
  if (api.stored_usage) {
    // Every meter as all nodes stored it (sums, gauges' largest readings), in one query.
    std::vector<store::UsageWindow> windows;
    for (quota::QuotaStatus& s : statuses) {
      windows.push_back(
          {quota::event_types_of(s.meter), s.period_start, s.resets_at, quota::is_gauge(s.meter)});
    }
    std::optional<std::vector<Decimal>> used;
    if (lookup == Lookup::kCacheOnly) {
      if (api.cached_usage) used = api.cached_usage(tenant, windows);
      if (!used) return std::nullopt;
    } else {
      auto read = api.stored_usage(tenant, windows);
      if (!read) return problem(read.error());
      used = std::move(*read);
    }
    for (std::size_t i = 0; i < statuses.size(); ++i) quota::set_used(statuses[i], (*used)[i]);
  }
  bool exceeded = std::any_of(statuses.begin(), statuses.end(), [](const auto& s) { return s.exceeded; });
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("time_zone").str(entry->quota.time_zone);
  out.key("enforcement").str(quota::enforcement_name(entry->quota.enforcement));
  out.key("period").str("day");
  out.key("period_start").time(entry->zone.period_start(quota::Period::kDay, now));
  out.key("resets_at").time(entry->zone.period_end(quota::Period::kDay, now));
  write_statuses(out, statuses, quota::Period::kDay);
  out.key("monthly").begin_object();
  out.key("period_start").time(entry->zone.period_start(quota::Period::kMonth, now));
  out.key("resets_at").time(entry->zone.period_end(quota::Period::kMonth, now));
  write_statuses(out, statuses, quota::Period::kMonth);
  out.end_object();
  // within_quota keeps the Python service's meaning (nothing over its limit): a tenant exactly at a limit
  // is within quota, and in hard mode its next counted event of that meter is refused.
  // at_limit says that boundary was reached (docs/decisions.md).
  bool at_limit = std::any_of(statuses.begin(), statuses.end(),
                              [](const auto& s) { return s.limit && s.used >= *s.limit; });
  out.key("within_quota").boolean(!exceeded);
  out.key("at_limit").boolean(at_limit);
  out.key("status").str(exceeded ? "exceeded" : "ok");
  out.end_object();
  return out.response();
}

// Answers, unless `lookup` is kCacheOnly and the tenant is not cached (then returns false
// and leaves `respond` alone).
bool answer_report(const ApiContext& api, const std::string& tenant, Responder& respond, Lookup lookup) {
  auto report = quota_report(api, tenant, lookup);
  if (!report) return false;
  respond(std::move(*report));
  return true;
}

bool quota_check(const ApiContext& api, HttpRequest& request, Responder& respond,
                 Lookup lookup = Lookup::kMayBlock) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error())), true;
  if (auto s = body->only({"tenant_id"}); !s) return respond(problem(s.error())), true;
  auto tenant = body_tenant(*body, request);
  if (!tenant) return respond(problem(tenant.error())), true;
  if (auto hidden = hidden_unless_own(request, *tenant)) return respond(std::move(*hidden)), true;
  return answer_report(api, *tenant, respond, lookup);
}

// GET /v1/tenants/{t}/quotas, the same way.
bool tenant_quotas(const ApiContext& api, HttpRequest& request, const PathParams& p, Responder& respond,
                   Lookup lookup = Lookup::kMayBlock) {
  const std::string& tenant = p.at("tenant");
  if (auto bad = bad_path_tenant(tenant)) return respond(std::move(*bad)), true;
  if (auto hidden = hidden_unless_own(request, tenant)) return respond(std::move(*hidden)), true;
  return answer_report(api, tenant, respond, lookup);
}

// GET /v1/alerts: quota alerts, newest first; a tenant key sees its own only.
void list_alerts(const ApiContext& api, HttpRequest& request, Responder& respond) {
  std::string tenant(request.param("tenant_id").value_or(""));
  if (!request.principal.admin) {
    if (!tenant.empty() && tenant != request.principal.tenant_id) {
      return respond(problem(404, "Not Found", "no tenant " + tenant));
    }
    tenant = request.principal.tenant_id;
  }
  auto limit = limit_param(request, 100);
  if (!limit) return respond(problem(limit.error()));
  auto alerts = api.records.list_alerts(tenant, static_cast<std::size_t>(*limit), false);
  if (!alerts) return respond(problem(alerts.error()));
  JsonOut out;
  out.begin_object();
  out.key("alerts").begin_array();
  for (const auto& r : *alerts) {
    out.begin_object();
    out.key("id").num(r.id);
    out.key("tenant_id").str(r.alert.tenant_id);
    out.key("meter").str(quota::meter_name(r.alert.meter));
    out.key("period").str(r.alert.period == quota::Period::kDay ? "day" : "month");
    out.key("period_start").time(r.alert.period_start);
    out.key("threshold_percent").num(r.alert.threshold_percent);
    out.key("used").dec(r.alert.used);
    out.key("limit").dec(r.alert.limit);
    out.key("fired_at").time(r.alert.fired_at);
    out.key("delivery").str(r.delivery);
    out.key("attempts").num(r.attempts);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  respond(out.response());
}

}  // namespace

void add_quota_routes(Router& router, const ApiContext& api) {
  router.add(
      "POST", "/quota/set", Access::kAdmin,
      [&api](HttpRequest& req, const PathParams&, Responder& r) { quota_set(api, req, r); },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/alerts", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& r) { list_alerts(api, req, r); },
      Runs::kInReadPool);
  // On the event loop from memory (the node's counters, or with a shared store its cache of
  // what every node stored); a shared store's tenant not cached is read in the read pool.
  router.add(
      "POST", "/quota/check", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& r) {
        return quota_check(api, req, r, Lookup::kCacheOnly);
      },
      [&api](HttpRequest& req, const PathParams&, Responder& r) { quota_check(api, req, r); });
  router.add(
      "GET", "/v1/tenants/{tenant}/quotas", Access::kKey,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        return tenant_quotas(api, req, p, r, Lookup::kCacheOnly);
      },
      [&api](HttpRequest& req, const PathParams& p, Responder& r) { tenant_quotas(api, req, p, r); });
  router.add(
      "PUT", "/v1/tenants/{tenant}/quotas", Access::kAdmin,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        const std::string& tenant = p.at("tenant");
        if (auto bad = bad_path_tenant(tenant)) return r(std::move(*bad));
        auto body = JsonBody::parse(req.body);
        if (!body) return r(problem(body.error()));
        if (auto s = check_quota_fields(*body, false); !s) return r(problem(s.error()));
        r(update_quota(api, tenant, *body));
      },
      Runs::kInReadPool);
}

}  // namespace meter::server

// The seed's quota and invoice endpoints, with its request bodies.
#include "billing/invoice.h"
#include "quota/status.h"
#include "core/identifier.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// The body's tenant_id; a tenant key may leave it out and means its own tenant.
Result<std::string> tenant_of(const JsonBody& body, const HttpRequest& request) {
  auto tenant = body.string("tenant_id");
  if (!tenant) return fail(tenant.error());
  if (!*tenant && !request.principal.admin) return request.principal.tenant_id;
  if (!*tenant) return fail(Error::invalid("tenant_id", "tenant_id is required"));
  if (auto why = check_identifier(**tenant)) return fail(Error::invalid("tenant_id", "tenant_id " + *why));
  return **tenant;
}

// Total quantity per event type over [from, to), from the daily rollups.
Result<std::map<std::string, Decimal>> usage_by_type(const ApiContext& api, const std::string& tenant,
                                                      Timestamp from, Timestamp to) {
  auto rows = api.store.usage({tenant, std::nullopt, from, to, Window::kDay});
  if (!rows) return fail(rows.error());
  std::map<std::string, Decimal> totals;
  for (const auto& row : *rows) {
    auto sum = totals[row.event_type].checked_add(row.quantity);
    if (!sum) return fail(Error::invalid("quantity", "usage of " + row.event_type + " overflows"));
    totals[row.event_type] = *sum;
  }
  return totals;
}

void write_limit(JsonOut& out, std::string_view key, const std::optional<Decimal>& value) {
  out.key(key);
  if (value) out.dec(*value); else out.null();
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

// Applies a quota body (the seed's fields plus monthly limits, time_zone and enforcement) on
// top of the tenant's current settings, stores them, and answers with the result.
HttpResponse update_quota(const ApiContext& api, const std::string& tenant, const JsonBody& body) {
  using quota::Meter;
  quota::TenantQuota q = api.quotas.get(tenant)->quota;
  std::pair<const char*, std::optional<Decimal>*> fields[] = {
      {"queries_per_day", &q[Meter::kQueries].per_day},   {"queries_per_month", &q[Meter::kQueries].per_month},
      {"tokens_per_day", &q[Meter::kTokens].per_day},     {"tokens_per_month", &q[Meter::kTokens].per_month},
      {"storage_gb", &q[Meter::kStorageGb].per_day},      {"storage_gb_per_month", &q[Meter::kStorageGb].per_month}};
  for (auto [key, field] : fields) {
    auto value = body.decimal(key);
    if (!value) return problem(value.error());
    if (*value) *field = **value;
  }
  auto zone = body.string("time_zone");
  if (!zone) return problem(zone.error());
  if (*zone) q.time_zone = **zone;
  auto mode = body.string("enforcement");
  if (!mode) return problem(mode.error());
  if (*mode) {
    auto parsed = quota::parse_enforcement(**mode);
    if (!parsed) return problem(Error::invalid("enforcement", "enforcement must be soft or hard"));
    q.enforcement = *parsed;
  }
  if (auto found = quota::Zone::find(q.time_zone); !found) return problem(found.error());
  if (auto s = api.store.put_quota(tenant, q); !s) return problem(s.error());
  if (auto s = api.quotas.set(tenant, q); !s) return problem(s.error());
  JsonOut out;
  out.begin_object();
  out.key("status").str("updated");
  out.key("tenant_id").str(tenant);
  write_settings(out, q);
  out.end_object();
  return out.response();
}

void quota_set(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id", "queries_per_day", "queries_per_month", "tokens_per_day", "tokens_per_month",
                           "storage_gb", "storage_gb_per_month", "time_zone", "enforcement"});
      !s) {
    return respond(problem(s.error()));
  }
  auto tenant = tenant_of(*body, request);
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
    out.end_object();
  }
  out.end_object();
}

// The live quota status of one tenant: the seed's /quota/check answer, also GET /v1/tenants/{t}/quotas.
HttpResponse quota_report(const ApiContext& api, const std::string& tenant) {
  auto entry = api.quotas.get(tenant);
  Timestamp now = api.clock.now();
  auto statuses = quota::quota_status(*entry, api.counters, tenant, now);
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
  out.key("within_quota").boolean(!exceeded);
  out.key("status").str(exceeded ? "exceeded" : "ok");
  out.end_object();
  return out.response();
}

void quota_check(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id"}); !s) return respond(problem(s.error()));
  auto tenant = tenant_of(*body, request);
  if (!tenant) return respond(problem(tenant.error()));
  if (auto hidden = hidden_unless_own(request, *tenant)) return respond(std::move(*hidden));
  respond(quota_report(api, *tenant));
}

void write_invoice(JsonOut& out, const billing::Invoice& inv) {
  out.begin_object();
  out.key("invoice_number").str(inv.number);
  out.key("tenant_id").str(inv.tenant_id);
  out.key("year").num(inv.year);
  out.key("month").num(inv.month);
  out.key("period_start").time(inv.period_start);
  out.key("period_end").time(inv.period_end);
  out.key("currency").str(inv.currency);
  out.key("line_items").begin_array();
  for (const auto& line : inv.lines) {
    out.begin_object();
    out.key("event_type").str(line.event_type);
    out.key("description").str(line.description);
    out.key("quantity").dec(line.quantity);
    out.key("unit_price").dec(line.unit_price);
    out.key("per").dec(line.per);
    out.key("amount").dec(line.amount);
    out.key("priced").boolean(line.priced);
    out.end_object();
  }
  out.end_array();
  out.key("subtotal").dec(inv.subtotal);
  out.key("total").dec(inv.total);
  out.end_object();
}

void invoice_generate(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id", "year", "month"}); !s) return respond(problem(s.error()));
  auto tenant = tenant_of(*body, request);
  if (!tenant) return respond(problem(tenant.error()));
  if (auto hidden = hidden_unless_own(request, *tenant)) return respond(std::move(*hidden));
  auto year = body->integer("year");
  auto month = body->integer("month");
  if (!year) return respond(problem(year.error()));
  if (!month) return respond(problem(month.error()));
  if (!*year) return respond(problem(Error::invalid("year", "year is required")));
  if (!*month) return respond(problem(Error::invalid("month", "month is required (1..12)")));
  if (**year < 1970 || **year > 9999 || **month < 1 || **month > 12) {
    return respond(problem(Error::invalid(**month < 1 || **month > 12 ? "month" : "year",
                                          "year must be 1970..9999 and month 1..12 (January is 1)")));
  }
  auto bounds = billing::month_bounds(static_cast<int>(**year), static_cast<int>(**month));
  if (!bounds) return respond(problem(bounds.error()));
  auto usage = usage_by_type(api, *tenant, bounds->first, bounds->second);
  if (!usage) return respond(problem(usage.error()));
  auto invoice = billing::build_invoice(*tenant, static_cast<int>(**year), static_cast<int>(**month), *usage,
                                        api.price_book);
  if (!invoice) return respond(problem(invoice.error()));
  JsonOut out;
  write_invoice(out, *invoice);
  respond(out.response());
}

}  // namespace

void add_seed_routes(Router& router, const ApiContext& api) {
  router.add("POST", "/quota/set", Access::kAdmin, [&api](HttpRequest& req, const PathParams&, Responder& r) { quota_set(api, req, r); });
  router.add("POST", "/quota/check", Access::kKey, [&api](HttpRequest& req, const PathParams&, Responder& r) { quota_check(api, req, r); });
  router.add("GET", "/v1/tenants/{tenant}/quotas", Access::kKey,
             [&api](HttpRequest& req, const PathParams& p, Responder& r) {
               const std::string& tenant = p.at("tenant");
               if (auto why = check_identifier(tenant)) return r(problem(Error::invalid("tenant", "tenant " + *why)));
               if (auto hidden = hidden_unless_own(req, tenant)) return r(std::move(*hidden));
               r(quota_report(api, tenant));
             });
  router.add("PUT", "/v1/tenants/{tenant}/quotas", Access::kAdmin,
             [&api](HttpRequest& req, const PathParams& p, Responder& r) {
               const std::string& tenant = p.at("tenant");
               if (auto why = check_identifier(tenant)) return r(problem(Error::invalid("tenant", "tenant " + *why)));
               auto body = JsonBody::parse(req.body);
               if (!body) return r(problem(body.error()));
               if (auto s = body->only({"queries_per_day", "queries_per_month", "tokens_per_day", "tokens_per_month",
                                        "storage_gb", "storage_gb_per_month", "time_zone", "enforcement"});
                   !s) {
                 return r(problem(s.error()));
               }
               r(update_quota(api, tenant, *body));
             });
  router.add("POST", "/invoice/generate", Access::kKey,
             [&api](HttpRequest& req, const PathParams&, Responder& r) { invoice_generate(api, req, r); });
}

}  // namespace meter::server

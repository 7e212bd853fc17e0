// The seed's quota and invoice endpoints, with its request bodies.
#include "billing/invoice.h"
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

Result<quota::QuotaLimits> limits_of(const ApiContext& api, const std::string& tenant) {
  auto stored = api.store.get_quota(tenant);
  if (!stored) return fail(stored.error());
  return stored->value_or(api.default_quota);
}

void write_limit(JsonOut& out, std::string_view key, const std::optional<Decimal>& value) {
  out.key(key);
  if (value) out.dec(*value); else out.null();
}

void quota_set(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id", "queries_per_day", "tokens_per_day", "storage_gb"}); !s) {
    return respond(problem(s.error()));
  }
  auto tenant = tenant_of(*body, request);
  if (!tenant) return respond(problem(tenant.error()));
  if (auto hidden = hidden_unless_own(request, *tenant)) return respond(std::move(*hidden));
  auto current = limits_of(api, *tenant);
  if (!current) return respond(problem(current.error()));
  quota::QuotaLimits limits = *current;
  for (auto [key, field] : {std::pair{"queries_per_day", &limits.queries_per_day},
                            std::pair{"tokens_per_day", &limits.tokens_per_day},
                            std::pair{"storage_gb", &limits.storage_gb}}) {
    auto value = body->decimal(key);
    if (!value) return respond(problem(value.error()));
    if (*value) *field = **value;
  }
  if (auto s = api.store.put_quota(*tenant, limits); !s) return respond(problem(s.error()));
  JsonOut out;
  out.begin_object();
  out.key("status").str("updated");
  out.key("tenant_id").str(*tenant);
  write_limit(out, "queries_per_day", limits.queries_per_day);
  write_limit(out, "tokens_per_day", limits.tokens_per_day);
  write_limit(out, "storage_gb", limits.storage_gb);
  out.end_object();
  respond(out.response());
}

void quota_check(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id"}); !s) return respond(problem(s.error()));
  auto tenant = tenant_of(*body, request);
  if (!tenant) return respond(problem(tenant.error()));
  if (auto hidden = hidden_unless_own(request, *tenant)) return respond(std::move(*hidden));
  auto limits = limits_of(api, *tenant);
  if (!limits) return respond(problem(limits.error()));
  Timestamp now = api.clock.now();
  Timestamp day = floor_to(Window::kDay, now);
  Timestamp resets = next_window(Window::kDay, now);
  auto usage = usage_by_type(api, *tenant, day, resets);
  if (!usage) return respond(problem(usage.error()));
  auto statuses = quota::evaluate(*limits, *usage);
  if (!statuses) return respond(problem(statuses.error()));

  bool exceeded = false;
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(*tenant);
  out.key("period").str("day");
  out.key("period_start").time(day);
  out.key("resets_at").time(resets);
  out.key("quotas").begin_object();
  for (const auto& s : *statuses) {
    exceeded = exceeded || s.exceeded;
    out.key(s.meter).begin_object();
    out.key("used").dec(s.used);
    write_limit(out, "limit", s.limit);
    write_limit(out, "remaining", s.remaining);
    out.key("exceeded").boolean(s.exceeded);
    out.end_object();
  }
  out.end_object();
  out.key("within_quota").boolean(!exceeded);
  out.key("status").str(exceeded ? "exceeded" : "ok");
  out.end_object();
  respond(out.response());
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
  router.add("POST", "/invoice/generate", Access::kKey,
             [&api](HttpRequest& req, const PathParams&, Responder& r) { invoice_generate(api, req, r); });
}

}  // namespace meter::server

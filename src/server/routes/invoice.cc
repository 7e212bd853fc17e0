// Invoices and plans: the Python service's /invoice/generate, /v1/tenants/{t}/invoices/{YYYY-MM} (JSON or
// CSV, and finalize), /v1/tenants/{t}/plan and /v1/plans.
#include <fmt/format.h>

#include <charconv>
#include <expected>

#include "billing/export.h"
#include "billing/invoicer.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/params.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

HttpResponse invoice_response(const ApiContext& api, const std::string& tenant, int year, int month,
                              bool csv) {
  auto text = api.invoicer.render(tenant, year, month, csv);
  if (!text) return problem(text.error());
  HttpResponse response;
  response.body = std::move(*text);
  if (csv) {
    response.content_type = "text/csv";
    response.headers.emplace_back(
        "Content-Disposition",
        fmt::format("attachment; filename=\"INV-{:04d}{:02d}-{}.csv\"", year, month, tenant));
  }
  return response;
}

void invoice_generate(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto body = JsonBody::parse(request.body);
  if (!body) return respond(problem(body.error()));
  if (auto s = body->only({"tenant_id", "year", "month"}); !s) return respond(problem(s.error()));
  auto tenant = body_tenant(*body, request);
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
  respond(invoice_response(api, *tenant, static_cast<int>(**year), static_cast<int>(**month), false));
}

// The {tenant} and {month} of an invoice path, checked: (year, month), or the answer to send.
std::expected<std::pair<int, int>, HttpResponse> invoice_path(const HttpRequest& request,
                                                              const PathParams& p) {
  if (auto bad = bad_path_tenant(p.at("tenant"))) return std::unexpected(std::move(*bad));
  if (auto hidden = hidden_unless_own(request, p.at("tenant"))) return std::unexpected(std::move(*hidden));
  auto month = billing::parse_year_month(p.at("month"));
  if (!month) return std::unexpected(problem(month.error()));
  return *month;
}

// GET .../invoices/{month}/adjustments: the month's adjustment notes, in order.
HttpResponse adjustments_response(const ApiContext& api, const std::string& tenant, int year, int month) {
  auto notes = api.records.adjustments(tenant, year * 100 + month);
  if (!notes) return problem(notes.error());
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("month").str(fmt::format("{:04d}-{:02d}", year, month));
  out.key("adjustments").begin_array();
  for (const auto& note : *notes) out.raw(note.json);
  out.end_array();
  out.end_object();
  return out.response(200);
}

// GET .../invoices/{month}/adjustments/{sequence}: one note, as JSON or CSV.
HttpResponse adjustment_response(const ApiContext& api, const std::string& tenant, int year, int month,
                                 std::string_view sequence, bool csv) {
  auto notes = api.records.adjustments(tenant, year * 100 + month);
  if (!notes) return problem(notes.error());
  for (auto& note : *notes) {
    if (std::to_string(note.sequence) != sequence) continue;
    HttpResponse response;
    response.body = csv ? std::move(note.csv) : std::move(note.json);
    if (csv) {
      response.content_type = "text/csv";
      response.headers.emplace_back("Content-Disposition",
                                    fmt::format("attachment; filename=\"{}.csv\"", note.number));
    }
    return response;
  }
  return problem(Error{
      ErrorCode::kNotFound,
      fmt::format("tenant {} has no adjustment note {} for {:04d}-{:02d}", tenant, sequence, year, month),
      "sequence"});
}

void plan_response(const ApiContext& api, const std::string& tenant, Responder& respond) {
  auto plan = api.records.plan(tenant);
  if (!plan) return respond(problem(plan.error()));
  const pricing::Plan& effective = api.price_book.plan_or_default(plan->value_or(""));
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("plan").str(effective.name);
  out.key("default").boolean(!plan->has_value() || api.price_book.find(**plan) == nullptr);
  out.end_object();
  respond(out.response());
}

// One tenant of GET /v1/tenants: its invoice's figures so far, or the finalized snapshot's.
// A tenant whose invoice cannot be built (e.g. an overflowing sum) gets an error, not the list.
void write_tenant_entry(JsonOut& out, const ApiContext& api, const std::string& tenant, int year, int month) {
  out.begin_object();
  out.key("tenant_id").str(tenant);
  auto fail_with = [&](const Error& e) {
    out.key("error").str(e.message);
    out.end_object();
  };
  auto snapshot = api.records.finalized_invoice(tenant, year * 100 + month);
  if (!snapshot) return fail_with(snapshot.error());
  if (*snapshot) {
    auto body = JsonBody::parse((*snapshot)->json);
    if (!body) return fail_with(body.error());
    const char* keys[] = {"plan", "time_zone", "currency", "total"};
    for (int i = 0; i < 4; ++i) {
      auto value = body->string(keys[i]);
      if (!value || !*value)
        return fail_with(Error::internal("the finalized invoice has no " + std::string(keys[i])));
      out.key(keys[i]).str(**value);
    }
    out.key("status").str("finalized");
    out.end_object();
    return;
  }
  auto invoice = api.invoicer.build(tenant, year, month);
  if (!invoice) return fail_with(invoice.error());
  out.key("plan").str(invoice->plan);
  out.key("time_zone").str(invoice->time_zone);
  out.key("currency").str(invoice->currency);
  out.key("total").dec(invoice->total);
  out.key("status").str("draft");
  out.end_object();
}

}  // namespace

void add_invoice_routes(Router& router, const ApiContext& api) {
  router.add(
      "POST", "/invoice/generate", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& r) { invoice_generate(api, req, r); },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/tenants/{tenant}/invoices/{month}", Access::kKey,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        auto month = invoice_path(req, p);
        if (!month) return r(std::move(month.error()));
        auto csv = wants_csv(req);
        if (!csv) return r(problem(csv.error()));
        r(invoice_response(api, p.at("tenant"), month->first, month->second, *csv));
      },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/tenants/{tenant}/invoices/{month}/adjustments", Access::kKey,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        auto month = invoice_path(req, p);
        if (!month) return r(std::move(month.error()));
        r(adjustments_response(api, p.at("tenant"), month->first, month->second));
      },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/tenants/{tenant}/invoices/{month}/adjustments/{sequence}", Access::kKey,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        auto month = invoice_path(req, p);
        if (!month) return r(std::move(month.error()));
        auto csv = wants_csv(req);
        if (!csv) return r(problem(csv.error()));
        r(adjustment_response(api, p.at("tenant"), month->first, month->second, p.at("sequence"), *csv));
      },
      Runs::kInReadPool);
  router.add(
      "POST", "/v1/tenants/{tenant}/invoices/{month}/finalize", Access::kAdmin,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        auto month = invoice_path(req, p);
        if (!month) return r(std::move(month.error()));
        auto snapshot = api.invoicer.finalize(p.at("tenant"), month->first, month->second, api.clock.now());
        if (!snapshot) return r(problem(snapshot.error()));
        HttpResponse response;
        response.status = 201;
        response.body = std::move(snapshot->json);
        r(std::move(response));
      },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/tenants/{tenant}/plan", Access::kKey,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        const std::string& tenant = p.at("tenant");
        if (auto bad = bad_path_tenant(tenant)) return r(std::move(*bad));
        if (auto hidden = hidden_unless_own(req, tenant)) return r(std::move(*hidden));
        plan_response(api, tenant, r);
      },
      Runs::kInReadPool);
  router.add(
      "PUT", "/v1/tenants/{tenant}/plan", Access::kAdmin,
      [&api](HttpRequest& req, const PathParams& p, Responder& r) {
        const std::string& tenant = p.at("tenant");
        if (auto bad = bad_path_tenant(tenant)) return r(std::move(*bad));
        auto body = JsonBody::parse(req.body);
        if (!body) return r(problem(body.error()));
        if (auto s = body->only({"plan"}); !s) return r(problem(s.error()));
        auto plan = body->string("plan");
        if (!plan) return r(problem(plan.error()));
        if (!*plan || api.price_book.find(**plan) == nullptr) {
          std::string known;
          for (const auto& pl : api.price_book.plans) known += (known.empty() ? "" : ", ") + pl.name;
          return r(problem(Error::invalid("plan", "plan must be one of: " + known)));
        }
        auto stored = api.records.update_settings(tenant, [&](store::TenantSettings& s) -> Status {
          s.plan = **plan;
          return {};
        });
        if (!stored) return r(problem(stored.error()));
        if (api.credits != nullptr) api.credits->plan_changed(tenant, **plan);
        plan_response(api, tenant, r);
      },
      Runs::kInReadPool);
  // Tenants with usage in a month, each with its invoice total so far: the dashboard's list.
  router.add(
      "GET", "/v1/tenants", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& r) {
        Timestamp now = api.clock.now();
        auto month = billing::parse_year_month(
            std::string(req.param("month").value_or(format_rfc3339(now).substr(0, 7))));
        if (!month) return r(problem(month.error()));
        auto utc = *billing::month_bounds(month->first, month->second);
        // A page at a time (?limit=, ?after=TENANT): each entry prices a month of the tenant's usage.
        auto limit = limit_param(req, 1000);
        if (!limit) return r(problem(limit.error()));
        std::string after(req.param("after").value_or(""));
        auto tenants = api.usage.tenants(utc.first - std::chrono::days(1), utc.second + std::chrono::days(1));
        if (!tenants) return r(problem(tenants.error()));
        JsonOut out;
        out.begin_object();
        out.key("month").str(fmt::format("{:04d}-{:02d}", month->first, month->second));
        out.key("tenants").begin_array();
        std::int64_t listed = 0;
        std::string last, next_after;  // next_after: set when more tenants follow this page
        for (const std::string& tenant : *tenants) {
          if (tenant <= after || !req.principal.may_act_for(tenant)) continue;
          if (listed == *limit) {
            next_after = last;
            break;
          }
          ++listed;
          last = tenant;
          write_tenant_entry(out, api, tenant, month->first, month->second);
        }
        out.end_array();
        out.key("next_after");
        if (next_after.empty())
          out.null();
        else
          out.str(next_after);
        out.end_object();
        r(out.response());
      },
      Runs::kInReadPool);
  router.add("GET", "/v1/plans", Access::kKey, [&api](HttpRequest&, const PathParams&, Responder& r) {
    JsonOut out;
    out.begin_object();
    out.key("default_plan").str(api.price_book.plan_or_default("").name);
    out.key("plans").begin_array();
    for (const auto& plan : api.price_book.plans) {
      out.begin_object();
      out.key("name").str(plan.name);
      out.key("currency").str(plan.currency);
      out.key("minimum_commitment").dec(plan.minimum_commitment);
      out.key("adjustments_on_next_invoice").boolean(plan.adjustments_on_next_invoice);
      out.key("meters").begin_array();
      for (const auto& m : plan.prices) {
        out.begin_object();
        out.key("event_type").str(m.event_type);
        out.key("model").str(pricing::model_name(m.model));
        out.key("free_allowance").dec(m.free_allowance);
        out.end_object();
      }
      out.end_array();
      out.end_object();
    }
    out.end_array();
    out.end_object();
    r(out.response());
  });
}

}  // namespace meter::server

// The seed's /invoice/generate.
#include "billing/invoice.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// Total quantity per event type over [from, to), from the daily rollups.
Result<std::map<std::string, Decimal>> usage_by_type(const ApiContext& api, const std::string& tenant,
                                                      Timestamp from, Timestamp to) {
  auto rows = api.store.usage({tenant, std::nullopt, from, to, Window::kDay});
  if (!rows) return fail(rows.error());
  auto totals = store::totals_by_type(*rows);
  if (!totals) return fail(totals.error());
  std::map<std::string, Decimal> by_type;
  for (const auto& t : *totals) by_type.emplace(t.event_type, t.quantity);
  return by_type;
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

void add_invoice_routes(Router& router, const ApiContext& api) {
  router.add("POST", "/invoice/generate", Access::kKey,
             [&api](HttpRequest& req, const PathParams&, Responder& r) { invoice_generate(api, req, r); });
}

}  // namespace meter::server

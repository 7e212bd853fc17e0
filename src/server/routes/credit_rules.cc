// Prepaid-credit rules (docs/credits.md): low-balance notices, top-ups that await payment,
// recurring monthly grants with rollover; and the notices they fired.
#include <fmt/format.h>

#include <tuple>

#include "auth/api_key.h"
#include "billing/invoice.h"
#include "core/identifier.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/routes/credit_fields.h"
#include "server/routes/credit_guard.h"
#include "server/routes/params.h"

namespace meter::server {
namespace {

constexpr std::string_view kRuleFields[] = {"kind",
                                            "threshold",
                                            "amount",
                                            "category",
                                            "priority",
                                            "scope",
                                            "expires_after",
                                            "starts",
                                            "rollover_max",
                                            "rollover_priority",
                                            "rollover_expires_after"};

Result<std::string> duration_field(const JsonBody& body, std::string_view key, const quota::Zone& zone) {
  auto text = body.string(key);
  if (!text) return fail(text.error());
  if (!*text) return std::string();
  if (!zone.add_duration(Timestamp(), **text)) {
    return fail(Error::invalid(
        std::string(key), std::string(key) + " must be an ISO 8601 duration such as P30D, P2W, P1M or P1Y"));
  }
  return **text;
}

Result<credits::Rule> parse_rule(const ApiContext& api, const std::string& tenant, const JsonBody& body) {
  if (auto s = body.only(kRuleFields); !s) return fail(s.error());
  credits::Rule rule;
  rule.tenant_id = tenant;
  rule.created_at = api.clock.now();
  rule.id = "rule_" + new_event_id(rule.created_at);
  auto kind_text = body.string("kind");
  if (!kind_text) return fail(kind_text.error());
  auto kind = *kind_text ? credits::parse_rule_kind(**kind_text) : std::nullopt;
  if (!kind) return fail(Error::invalid("kind", "kind must be low_balance, top_up or recurring"));
  rule.kind = *kind;
  bool grants = rule.kind != credits::RuleKind::kLowBalance;
  bool recurring = rule.kind == credits::RuleKind::kRecurring;
  // Each field belongs to some kinds; one sent to another kind is a mistake, not a no-op.
  auto only_for = [&](std::string_view key, bool allowed, std::string_view kinds) -> Status {
    if (allowed || !body.has(key)) return {};
    return fail(
        Error::invalid(std::string(key), std::string(key) + " applies to " + std::string(kinds) + " rules"));
  };
  for (auto [key, allowed, kinds] :
       {std::tuple{"threshold", !recurring, "low_balance and top_up"},
        std::tuple{"amount", grants, "top_up and recurring"},
        std::tuple{"category", grants, "top_up and recurring"},
        std::tuple{"priority", grants, "top_up and recurring"},
        std::tuple{"scope", grants, "top_up and recurring"},
        std::tuple{"expires_after", rule.kind == credits::RuleKind::kTopUp, "top_up"},
        std::tuple{"starts", recurring, "recurring"}, std::tuple{"rollover_max", recurring, "recurring"},
        std::tuple{"rollover_priority", recurring, "recurring"},
        std::tuple{"rollover_expires_after", recurring, "recurring"}}) {
    if (auto s = only_for(key, allowed, kinds); !s) return fail(s.error());
  }
  auto positive = [&](std::string_view key, bool zero_ok) -> Result<Decimal> {
    auto d = body.decimal(key);
    if (!d) return fail(d.error());
    if (!*d || (**d).is_negative() || (!zero_ok && (**d).is_zero())) {
      return fail(Error::invalid(
          std::string(key),
          std::string(key) + (zero_ok ? " must be a decimal of at least 0" : " must be a positive decimal")));
    }
    return **d;
  };
  if (!recurring) {
    auto threshold = positive("threshold", false);
    if (!threshold) return fail(threshold.error());
    rule.threshold = *threshold;
  }
  if (!grants) return rule;
  auto amount = positive("amount", false);
  if (!amount) return fail(amount.error());
  rule.amount = *amount;
  if (auto s = read_lot_terms(body, rule.category, rule.priority, rule.scope); !s) return fail(s.error());
  const quota::Zone& zone = api.quotas.get(tenant)->zone;
  auto expires = duration_field(body, "expires_after", zone);
  if (!expires) return fail(expires.error());
  rule.expires_after = *expires;
  if (!recurring) return rule;
  rule.starts = zone.month_key(rule.created_at);
  auto starts = body.string("starts");
  if (!starts) return fail(starts.error());
  if (*starts) {
    auto month = billing::parse_year_month(**starts, "starts");
    if (!month) return fail(month.error());
    rule.starts = month->first * 100 + month->second;
  }
  if (body.has("rollover_max")) {
    auto max = positive("rollover_max", true);
    if (!max) return fail(max.error());
    rule.rollover_max = *max;
  }
  auto rollover_priority = read_priority(body, "rollover_priority", rule.priority);
  if (!rollover_priority) return fail(rollover_priority.error());
  rule.rollover_priority = *rollover_priority;
  auto rollover_expires = duration_field(body, "rollover_expires_after", zone);
  if (!rollover_expires) return fail(rollover_expires.error());
  rule.rollover_expires_after = rollover_expires->empty() ? "P1M" : *rollover_expires;
  return rule;
}

void write_rule(JsonOut& out, const credits::Rule& r) {
  out.begin_object();
  out.key("rule_id").str(r.id);
  out.key("tenant_id").str(r.tenant_id);
  out.key("kind").str(credits::rule_kind_name(r.kind));
  if (r.kind != credits::RuleKind::kRecurring) out.key("threshold").dec(r.threshold);
  if (r.kind != credits::RuleKind::kLowBalance) {
    out.key("amount").dec(r.amount);
    out.key("category").str(credits::category_name(r.category));
    out.key("priority").num(r.priority);
    out.key("scope").begin_array();
    for (const auto& t : r.scope) out.str(t);
    out.end_array();
  }
  if (r.kind == credits::RuleKind::kTopUp) {
    out.key("expires_after");
    if (r.expires_after.empty())
      out.null();
    else
      out.str(r.expires_after);
  }
  if (r.kind == credits::RuleKind::kRecurring) {
    out.key("starts").str(fmt::format("{:04}-{:02}", r.starts / 100, r.starts % 100));
    out.key("rollover_max");
    if (r.rollover_max)
      out.dec(*r.rollover_max);
    else
      out.null();
    out.key("rollover_priority").num(r.rollover_priority);
    out.key("rollover_expires_after").str(r.rollover_expires_after);
  }
  out.key("created_at").time(r.created_at);
  out.end_object();
}

}  // namespace

void add_credit_rule_routes(Router& router, const ApiContext& api) {
  const std::string base = "/v1/tenants/{tenant}/credits";
  router.add(
      "POST", base + "/rules", Access::kAdmin,
      tenant_route(api, true,
                   [&api](HttpRequest& req, const PathParams&, const std::string& tenant, Responder& r) {
                     auto body = JsonBody::parse(req.body);
                     if (!body) return r(problem(body.error()));
                     auto rule = parse_rule(api, tenant, *body);
                     if (!rule) return r(problem(rule.error()));
                     if (req.idempotency_key.size() > 255)
                       return r(problem(
                           Error::invalid("Idempotency-Key", "Idempotency-Key is at most 255 characters")));
                     // Optional: with one, a retried request adds the rule once.
                     rule->idempotency_key = req.idempotency_key;
                     rule->request_hash = auth::sha256_hex(req.body);
                     auto added = api.credits->add_rule(*rule);
                     if (!added) return r(problem(added.error()));
                     // A recurring rule's lots so far, at once (the calendar would in seconds).
                     if (api.credit_calendar != nullptr) {
                       if (auto s = api.credit_calendar->run_rule(added->rule, rule->created_at); !s)
                         return r(problem(s.error()));
                     }
                     JsonOut out;
                     write_rule(out, added->rule);
                     r(out.response(added->created ? 201 : 200));
                   }),
      Runs::kInReadPool);
  router.add("GET", base + "/rules", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest&, const PathParams&, const std::string& tenant, Responder& r) {
                            auto rules = api.credits->ledger().rules(tenant);
                            if (!rules) return r(problem(rules.error()));
                            JsonOut out;
                            out.begin_object();
                            out.key("tenant_id").str(tenant);
                            out.key("rules").begin_array();
                            for (const auto& rule : *rules) write_rule(out, rule);
                            out.end_array();
                            out.end_object();
                            r(out.response());
                          }),
             Runs::kInReadPool);
  router.add("DELETE", base + "/rules/{rule}", Access::kAdmin,
             tenant_route(api, true,
                          [&api](HttpRequest&, const PathParams& p, const std::string& tenant, Responder& r) {
                            auto deleted = api.credits->delete_rule(tenant, p.at("rule"), api.clock.now());
                            if (!deleted) return r(problem(deleted.error()));
                            if (!*deleted)
                              return r(problem(404, "Not Found",
                                               "tenant " + tenant + " has no rule " + p.at("rule")));
                            HttpResponse response;
                            response.status = 204;
                            r(std::move(response));
                          }),
             Runs::kInReadPool);
  router.add(
      "GET", base + "/notices", Access::kKey,
      tenant_route(api, false,
                   [&api](HttpRequest& req, const PathParams&, const std::string& tenant, Responder& r) {
                     auto limit = limit_param(req, 100, 1000);
                     if (!limit) return r(problem(limit.error()));
                     auto notices =
                         api.credits->ledger().notices(tenant, static_cast<std::size_t>(*limit), false);
                     if (!notices) return r(problem(notices.error()));
                     JsonOut out;
                     out.begin_object();
                     out.key("tenant_id").str(tenant);
                     out.key("notices").begin_array();
                     for (const auto& n : *notices) {
                       out.begin_object();
                       out.key("notice").raw(n.notice.body);  // the webhook's body, as sent
                       out.key("delivery").str(n.delivery);
                       out.key("attempts").num(n.attempts);
                       out.end_object();
                     }
                     out.end_array();
                     out.end_object();
                     r(out.response());
                   }),
      Runs::kInReadPool);
}

}  // namespace meter::server

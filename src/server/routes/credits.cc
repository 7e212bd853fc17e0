// Prepaid credit (docs/credits.md): grants (lots), voids, enforcement, the balance (now or at a
// past instant, replayed from the ledger), the ledger itself and a dry-run check.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "auth/api_key.h"
#include "billing/export.h"
#include "core/identifier.h"
#include "credits/statement.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/credit_fields.h"
#include "server/routes/credit_guard.h"
#include "server/routes/params.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

constexpr std::string_view kGrantFields[] = {"amount",     "category",   "priority",
                                             "scope",      "name",       "effective_at",
                                             "expires_at", "expires_on", "expires_after"};

Result<Timestamp> instant(const JsonBody& body, std::string_view key, Timestamp fallback) {
  auto text = body.string(key);
  if (!text) return fail(text.error());
  if (!*text) return fallback;
  auto t = parse_rfc3339(**text);
  if (!t) return fail(Error::invalid(std::string(key), std::string(key) + " must be an RFC 3339 instant"));
  return *t;
}

Result<credits::Lot> parse_grant(const ApiContext& api, const std::string& tenant, const HttpRequest& req,
                                 const JsonBody& body) {
  if (req.idempotency_key.empty() || req.idempotency_key.size() > 255) {
    return fail(
        Error::invalid("Idempotency-Key",
                       "send an Idempotency-Key header (1 to 255 characters) with every grant, so that "
                       "a retried request grants once"));
  }
  if (auto s = body.only(kGrantFields); !s) return fail(s.error());
  credits::Lot lot;
  lot.tenant_id = tenant;
  lot.idempotency_key = req.idempotency_key;
  lot.created_at = api.clock.now();
  auto amount = body.decimal("amount");
  if (!amount) return fail(amount.error());
  if (!*amount || **amount <= Decimal())
    return fail(Error::invalid("amount", "amount must be a positive decimal"));
  lot.amount = **amount;
  if (auto s = read_lot_terms(body, lot.category, lot.priority, lot.scope); !s) return fail(s.error());
  auto name = body.string("name");
  if (!name) return fail(name.error());
  lot.name = name->value_or("");
  if (lot.name.size() > 200) return fail(Error::invalid("name", "name is at most 200 characters"));
  // Without effective_at a grant also covers this month's events that arrive late (dated
  // before it); expires_after still counts from now.
  const quota::Zone& zone = api.quotas.get(tenant)->zone;
  auto effective = instant(body, "effective_at", lot.created_at);
  if (!effective) return fail(effective.error());
  Timestamp from = *effective;
  lot.effective_at =
      body.string("effective_at")->has_value() ? *effective : zone.period_start(quota::Period::kMonth, from);

  auto expires_at = body.string("expires_at");
  auto expires_on = body.string("expires_on");
  auto expires_after = body.string("expires_after");
  for (const auto* f : {&expires_at, &expires_on, &expires_after})
    if (!*f) return fail(f->error());
  int given = (*expires_at ? 1 : 0) + (*expires_on ? 1 : 0) + (*expires_after ? 1 : 0);
  if (given > 1) {
    return fail(Error::invalid("expires_at", "send at most one of expires_at, expires_on and expires_after"));
  }
  if (*expires_at) {
    auto t = parse_rfc3339(**expires_at);
    if (!t) return fail(Error::invalid("expires_at", "expires_at must be an RFC 3339 instant"));
    lot.expires_at = *t;
  } else if (*expires_on) {
    // The last local day the credit may be used: it ends where the next one begins.
    auto day = parse_date(**expires_on);
    if (!day) return fail(Error::invalid("expires_on", "expires_on must be a date, YYYY-MM-DD"));
    lot.expires_at = zone.midnight_of(*day + std::chrono::days(1));
  } else if (*expires_after) {
    lot.expires_at = zone.add_duration(from, **expires_after);
    if (!lot.expires_at) {
      return fail(Error::invalid("expires_after",
                                 "expires_after must be an ISO 8601 duration such as P30D, P2W, "
                                 "P1M or P1Y"));
    }
  }
  if (lot.expires_at && *lot.expires_at <= lot.effective_at) {
    return fail(Error::invalid("expires_at", "the grant would expire before it takes effect"));
  }
  // The request as sent (not its defaults, such as now): the same key resent is the same grant.
  std::string scope_text;
  for (const auto& t : lot.scope) scope_text += t + ",";
  lot.request_hash = auth::sha256_hex(fmt::format(
      "{}|{}|{}|{}|{}|{}|{}|{}|{}", lot.amount.to_string(), body.string("category")->value_or(""),
      body.integer("priority")->value_or(-1), scope_text, lot.name, body.string("effective_at")->value_or(""),
      expires_at->value_or(""), expires_on->value_or(""), expires_after->value_or("")));
  lot.id = "grant_" + new_event_id(lot.created_at);
  return lot;
}

std::string_view lot_status(const credits::LotRecord& r, Timestamp now) {
  if (r.lot.voided_at && *r.lot.voided_at <= now) return "voided";
  if (r.lot.awaits_payment) return "awaiting_payment";
  if (r.lot.expires_at && *r.lot.expires_at <= now) return "expired";
  if (r.lot.effective_at > now) return "scheduled";
  if (r.remaining() <= Decimal()) return "depleted";
  return "active";
}

void write_time_or_null(JsonOut& out, std::string_view key, const std::optional<Timestamp>& t) {
  out.key(key);
  if (t)
    out.time(*t);
  else
    out.null();
}

void write_lot(JsonOut& out, const credits::LotRecord& r, Timestamp now) {
  const credits::Lot& l = r.lot;
  out.begin_object();
  out.key("grant_id").str(l.id);
  out.key("tenant_id").str(l.tenant_id);
  out.key("name").str(l.name);
  out.key("amount").dec(l.amount);
  out.key("category").str(credits::category_name(l.category));
  out.key("priority").num(l.priority);
  out.key("scope").begin_array();
  for (const auto& t : l.scope) out.str(t);
  out.end_array();
  out.key("effective_at").time(l.effective_at);
  write_time_or_null(out, "expires_at", l.expires_at);
  out.key("created_at").time(l.created_at);
  write_time_or_null(out, "voided_at", l.voided_at);
  out.key("consumed").dec(r.consumed);
  out.key("voided").dec(r.voided);
  out.key("rolled_over").dec(r.rolled);
  out.key("remaining").dec(r.remaining());
  out.key("rule_id");
  if (l.rule_id.empty())
    out.null();
  else
    out.str(l.rule_id);
  out.key("status").str(lot_status(r, now));
  out.end_object();
}

HttpResponse lot_response(const credits::LotRecord& r, Timestamp now, int status = 200) {
  JsonOut out;
  write_lot(out, r, now);
  return out.response(status);
}

std::string currency_of(const ApiContext& api, const std::string& tenant) {
  return api.credits->plan_of(tenant).currency;
}

// The tenant's credit now (with no credit: off, and nothing in it).
Result<credits::Balance> current_balance(const ApiContext& api, const std::string& tenant, Timestamp at) {
  auto b = api.credits->balance(tenant, at);
  if (!b) return fail(b.error());
  return b->value_or(credits::Balance{tenant, credits::Enforcement::kOff, {}, {}});
}

// The lots as they stood at `at`, replayed from the ledger: every transaction booked up to it.
Result<credits::Balance> balance_at(const ApiContext& api, const std::string& tenant, Timestamp at) {
  auto now = current_balance(api, tenant, at);
  if (!now) return now;
  credits::Balance b = std::move(*now);
  std::erase_if(b.lots, [&](const credits::LotRecord& r) { return r.lot.created_at > at; });
  for (auto& r : b.lots) {
    r.consumed = Decimal();
    r.voided = Decimal();
    r.rolled = Decimal();
    if (r.lot.voided_at && *r.lot.voided_at > at) r.lot.voided_at.reset();
  }
  auto txns = store::all_transactions(api.credits->ledger(), tenant);
  if (!txns) return fail(txns.error());
  for (const auto& txn : *txns) {
    if (txn.at > at) continue;
    for (const auto& e : txn.entries) {
      if (txn.kind == "rollover" && e.account == credits::Account::kCredit && e.amount.is_negative()) {
        auto from =
            std::find_if(b.lots.begin(), b.lots.end(), [&](const auto& r) { return r.lot.id == e.grant_id; });
        if (from != b.lots.end()) from->rolled = from->rolled.checked_sub(e.amount).value_or(from->rolled);
        continue;
      }
      if (e.account != credits::Account::kUsage && e.account != credits::Account::kVoided) continue;
      auto lot =
          std::find_if(b.lots.begin(), b.lots.end(), [&](const auto& r) { return r.lot.id == e.grant_id; });
      if (lot == b.lots.end()) continue;
      Decimal& sum = e.account == credits::Account::kUsage ? lot->consumed : lot->voided;
      sum = sum.checked_add(e.amount).value_or(sum);
    }
  }
  b.available = Decimal();
  for (const auto& r : b.lots) {
    if (r.lot.usable_at(at) && r.remaining() > Decimal())
      b.available = *b.available.checked_add(r.remaining());
  }
  return b;
}

void balance(const ApiContext& api, const HttpRequest& req, const std::string& tenant, Responder& respond) {
  Timestamp now = api.clock.now();
  Timestamp at = now;
  credits::Balance b;
  if (auto text = req.param("as_of")) {
    auto parsed = parse_rfc3339(*text);
    if (!parsed) return respond(problem(Error::invalid("as_of", "as_of must be an RFC 3339 instant")));
    at = *parsed;
    auto replayed = balance_at(api, tenant, at);
    if (!replayed) return respond(problem(replayed.error()));
    b = std::move(*replayed);
  } else {
    auto current = current_balance(api, tenant, at);
    if (!current) return respond(problem(current.error()));
    b = std::move(*current);
  }
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("currency").str(currency_of(api, tenant));
  out.key("enforcement").str(credits::enforcement_name(b.enforcement));
  out.key("as_of").time(at);
  out.key("available").dec(b.available);
  // Top-ups asked for and not paid yet: spendable once activated.
  Decimal pending;
  for (const auto& r : b.lots)
    if (r.lot.awaits_payment && !r.lot.voided_at)
      pending = pending.checked_add(r.lot.amount).value_or(pending);
  out.key("pending").dec(pending);
  out.key("grants").begin_array();
  for (const auto& r : b.lots) write_lot(out, r, at);
  out.end_array();
  out.end_object();
  respond(out.response());
}

// From memory, on the event loop: answers unless as_of asks for a replay of the ledger.
bool balance_now(const ApiContext& api, const HttpRequest& req, const std::string& tenant,
                 Responder& respond) {
  if (req.param("as_of")) return false;
  balance(api, req, tenant, respond);
  return true;
}

// GET .../credits/burn_rate?days=N: what usage consumed over the last N days (default 7), per
// day (rounded down at 10^-12), and how many whole days the credit usable now lasts at that rate.
void burn_rate(const ApiContext& api, const HttpRequest& req, const std::string& tenant, Responder& respond) {
  std::int64_t days = 7;
  if (auto text = req.param("days")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), days);
    if (ec != std::errc() || end != text->data() + text->size() || days < 1 || days > 90)
      return respond(problem(Error::invalid("days", "days must be a whole number from 1 to 90")));
  }
  Timestamp to = api.clock.now();
  Timestamp from = to - std::chrono::days(days);
  auto consumed = api.credits->ledger().consumed_between(tenant, from, to);
  if (!consumed) return respond(problem(consumed.error()));
  Decimal per_day = Decimal::from_units(consumed->units() / days);
  auto b = current_balance(api, tenant, to);
  if (!b) return respond(problem(b.error()));
  Decimal available = b->available;
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("currency").str(currency_of(api, tenant));
  out.key("days").num(days);
  out.key("from").time(from);
  out.key("to").time(to);
  out.key("consumed").dec(*consumed);
  out.key("per_day").dec(per_day);
  out.key("available").dec(available);
  out.key("days_left");
  if (per_day > Decimal())
    out.num(static_cast<std::int64_t>(available.units() / per_day.units()));
  else
    out.null();
  out.end_object();
  respond(out.response());
}

void ledger(const ApiContext& api, const HttpRequest& req, const std::string& tenant, Responder& respond) {
  auto limit = limit_param(req, 100, 1000);
  if (!limit) return respond(problem(limit.error()));
  std::int64_t after = 0;
  if (auto text = req.param("after")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), after);
    if (ec != std::errc() || end != text->data() + text->size() || after < 0) {
      return respond(problem(Error::invalid("after", "after must be a transaction id (a whole number)")));
    }
  }
  auto txns = api.credits->ledger().transactions(tenant, after, static_cast<std::size_t>(*limit));
  if (!txns) return respond(problem(txns.error()));
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("transactions").begin_array();
  for (const auto& t : *txns) {
    out.begin_object();
    out.key("id").num(t.id);
    out.key("kind").str(t.kind);
    out.key("at").time(t.at);
    out.key("entries").begin_array();
    for (const auto& e : t.entries) {
      out.begin_object();
      out.key("account").str(credits::account_name(e.account));
      out.key("grant_id").str(e.grant_id);
      if (e.month != 0) out.key("month").str(fmt::format("{:04}-{:02}", e.month / 100, e.month % 100));
      out.key("event_type").str(e.event_type);
      out.key("amount").dec(e.amount);
      out.end_object();
    }
    out.end_array();
    out.end_object();
  }
  out.end_array();
  out.key("next_after");
  if (txns->size() == static_cast<std::size_t>(*limit))
    out.num(txns->back().id);
  else
    out.null();
  out.end_object();
  respond(out.response());
}

void write_movements(JsonOut& out, const credits::StatementLine& l) {
  out.key("opening").dec(l.opening);
  out.key("granted").dec(l.granted);
  out.key("consumed").dec(l.consumed);
  out.key("expired").dec(l.expired);
  out.key("voided").dec(l.voided);
  out.key("closing").dec(l.closing);
  out.key("rolled_over").dec(l.rolled_over);
}

// GET .../credits/statements/{YYYY-MM}: the tenant's local month (to now, while it runs).
void statement(const ApiContext& api, const HttpRequest& req, const std::string& tenant,
               const std::string& month_text, Responder& respond) {
  auto csv = wants_csv(req);
  if (!csv) return respond(problem(csv.error()));
  auto month = billing::parse_year_month(month_text);
  if (!month) return respond(problem(month.error()));
  billing::InvoicePeriod period = api.invoicer.period(tenant, month->first, month->second);
  auto lots = api.credits->ledger().grants(tenant);
  if (!lots) return respond(problem(lots.error()));
  auto txns = store::all_transactions(api.credits->ledger(), tenant);
  if (!txns) return respond(problem(txns.error()));
  Timestamp to = std::min(period.end, api.clock.now());
  credits::Statement s = credits::statement(*lots, *txns, period.start, std::max(period.start, to));
  if (*csv) {
    HttpResponse response;
    response.content_type = "text/csv";
    response.body = billing::statement_csv(s, tenant, month_text, currency_of(api, tenant));
    response.headers.emplace_back(
        "Content-Disposition",
        fmt::format("attachment; filename=\"credit-statement-{}-{}.csv\"", month_text, tenant));
    return respond(std::move(response));
  }
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("month").str(month_text);
  out.key("currency").str(currency_of(api, tenant));
  out.key("from").time(s.from);
  out.key("to").time(s.to);
  write_movements(out, s.total);
  out.key("grants").begin_array();
  for (const auto& l : s.lots) {
    out.begin_object();
    out.key("grant_id").str(l.grant_id);
    out.key("name").str(l.name);
    out.key("category").str(l.category);
    write_movements(out, l);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  respond(out.response());
}

void check(const ApiContext& api, const HttpRequest& req, const std::string& tenant, Responder& respond) {
  Event e;
  e.tenant_id = tenant;
  auto type = req.param("event_type");
  if (!type || check_identifier(*type)) {
    return respond(problem(Error::invalid("event_type", "send event_type, the meter to price")));
  }
  e.event_type = std::string(*type);
  auto quantity = Decimal::parse(req.param("quantity").value_or("1"));
  if (!quantity || quantity->is_negative()) {
    return respond(problem(Error::invalid("quantity", "quantity must be a non-negative decimal")));
  }
  e.quantity = *quantity;
  e.timestamp = e.received_at = api.clock.now();
  if (auto text = req.param("timestamp")) {
    auto t = parse_rfc3339(*text);
    if (!t) return respond(problem(Error::invalid("timestamp", "timestamp must be an RFC 3339 instant")));
    e.timestamp = *t;
  }
  auto q = api.credits->quote(e);
  if (!q) return respond(problem(q.error()));
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("event_type").str(e.event_type);
  out.key("quantity").dec(e.quantity);
  out.key("cost").dec(q->cost);
  out.key("available").dec(q->available);
  out.key("burns").boolean(q->burns);
  out.key("admitted").boolean(q->admitted);
  out.end_object();
  respond(out.response());
}

void settings_response(const ApiContext& api, const std::string& tenant, Responder& respond) {
  auto b = current_balance(api, tenant, api.clock.now());
  if (!b) return respond(problem(b.error()));
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("enforcement").str(credits::enforcement_name(b->enforcement));
  out.end_object();
  respond(out.response());
}

// A read answered from memory on the event loop: `handler` returns false to go to the pool.
template <class Handler>
FastRouteFn fast_read(const ApiContext& api, Handler handler) {
  return [&api, handler](HttpRequest& req, const PathParams& p, Responder& r) {
    const std::string& tenant = p.at("tenant");
    if (auto no = credits_refused(api, req, tenant, false)) return r(std::move(*no)), true;
    return handler(req, p, tenant, r);
  };
}

}  // namespace

void add_credit_routes(Router& router, const ApiContext& api) {
  const std::string base = "/v1/tenants/{tenant}/credits";
  router.add(
      "POST", base + "/grants", Access::kAdmin,
      tenant_route(api, true,
                   [&api](HttpRequest& req, const PathParams&, const std::string& tenant, Responder& r) {
                     auto body = JsonBody::parse(req.body);
                     if (!body) return r(problem(body.error()));
                     auto lot = parse_grant(api, tenant, req, *body);
                     if (!lot) return r(problem(lot.error()));
                     auto granted = api.credits->grant(std::move(*lot));
                     if (!granted) return r(problem(granted.error()));
                     r(lot_response(granted->record, api.clock.now(), granted->created ? 201 : 200));
                   }),
      Runs::kInReadPool);
  router.add("GET", base + "/grants", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest&, const PathParams&, const std::string& tenant, Responder& r) {
                            Timestamp now = api.clock.now();
                            auto b = current_balance(api, tenant, now);
                            if (!b) return r(problem(b.error()));
                            JsonOut out;
                            out.begin_object();
                            out.key("tenant_id").str(tenant);
                            out.key("grants").begin_array();
                            for (const auto& lot : b->lots) write_lot(out, lot, now);
                            out.end_array();
                            out.end_object();
                            r(out.response());
                          }),
             Runs::kInReadPool);
  router.add("GET", base + "/grants/{grant}", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest&, const PathParams& p, const std::string& tenant, Responder& r) {
                            auto found = api.credits->lot(tenant, p.at("grant"));
                            if (!found) return r(problem(found.error()));
                            const auto& lot = *found;
                            if (!lot)
                              return r(problem(404, "Not Found",
                                               "tenant " + tenant + " has no grant " + p.at("grant")));
                            r(lot_response(*lot, api.clock.now()));
                          }),
             Runs::kInReadPool);
  router.add("POST", base + "/grants/{grant}/void", Access::kAdmin,
             tenant_route(api, true,
                          [&api](HttpRequest&, const PathParams& p, const std::string& tenant, Responder& r) {
                            auto voided = api.credits->void_lot(tenant, p.at("grant"), api.clock.now());
                            if (!voided) return r(problem(voided.error()));
                            r(lot_response(*voided, api.clock.now()));
                          }),
             Runs::kInReadPool);
  router.add("POST", base + "/grants/{grant}/activate", Access::kAdmin,
             tenant_route(api, true,
                          [&api](HttpRequest&, const PathParams& p, const std::string& tenant, Responder& r) {
                            auto active = api.credits->activate(tenant, p.at("grant"), api.clock.now());
                            if (!active) return r(problem(active.error()));
                            r(lot_response(*active, api.clock.now()));
                          }),
             Runs::kInReadPool);
  // From memory on the event loop; a point in time (as_of) replays the ledger in the pool.
  router.add("GET", base + "/balance", Access::kKey,
             fast_read(api, [&api](HttpRequest& req, const PathParams&, const std::string& tenant,
                                   Responder& r) { return balance_now(api, req, tenant, r); }),
             tenant_route(api, false,
                          [&api](HttpRequest& req, const PathParams&, const std::string& tenant,
                                 Responder& r) { balance(api, req, tenant, r); }));
  router.add("GET", base + "/burn_rate", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest& req, const PathParams&, const std::string& tenant,
                                 Responder& r) { burn_rate(api, req, tenant, r); }),
             Runs::kInReadPool);
  router.add("GET", base + "/ledger", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest& req, const PathParams&, const std::string& tenant,
                                 Responder& r) { ledger(api, req, tenant, r); }),
             Runs::kInReadPool);
  router.add("GET", base + "/statements/{month}", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest& req, const PathParams& p, const std::string& tenant,
                                 Responder& r) { statement(api, req, tenant, p.at("month"), r); }),
             Runs::kInReadPool);
  router.add("GET", base + "/check", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest& req, const PathParams&, const std::string& tenant,
                                 Responder& r) { check(api, req, tenant, r); }),
             Runs::kInReadPool);
  router.add("GET", base + "/settings", Access::kKey,
             tenant_route(api, false,
                          [&api](HttpRequest&, const PathParams&, const std::string& tenant, Responder& r) {
                            settings_response(api, tenant, r);
                          }),
             Runs::kInReadPool);
  router.add(
      "PUT", base + "/settings", Access::kAdmin,
      tenant_route(api, true,
                   [&api](HttpRequest& req, const PathParams&, const std::string& tenant, Responder& r) {
                     auto body = JsonBody::parse(req.body);
                     if (!body) return r(problem(body.error()));
                     if (auto s = body->only({"enforcement"}); !s) return r(problem(s.error()));
                     auto text = body->string("enforcement");
                     if (!text) return r(problem(text.error()));
                     auto e = *text ? credits::parse_enforcement(**text) : std::nullopt;
                     if (!e)
                       return r(
                           problem(Error::invalid("enforcement", "enforcement must be hard, soft or off")));
                     if (auto s = api.credits->set_enforcement(tenant, *e); !s) return r(problem(s.error()));
                     settings_response(api, tenant, r);
                   }),
      Runs::kInReadPool);
}

}  // namespace meter::server

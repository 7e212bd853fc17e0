// Corrections (docs/corrections.md): cancelling stored events by id, the audit trail, and the
// correction routes' table.
#include <fmt/format.h>

#include <map>

#include "core/identifier.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/correction.h"
#include "server/routes/params.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

constexpr std::size_t kMaxIds = 1000;

struct CancelRequest {
  std::string tenant;
  CorrectionFields fields;
  std::vector<std::string> ids;
};

// The body's ids, or the one of the path (`path_id`, POST /v1/events/{id}/cancel, whose body may
// be empty).
Result<CancelRequest> parse_cancel(const ApiContext& api, const HttpRequest& request,
                                   std::string_view path_id) {
  auto body =
      JsonBody::parse(path_id.empty() || !request.body.empty() ? std::string_view(request.body) : "{}");
  if (!body) return fail(body.error());
  if (auto s = path_id.empty() ? body->only({"tenant_id", "ids", "reason", "correction_id"})
                               : body->only({"tenant_id", "reason", "correction_id"});
      !s)
    return fail(s.error());
  CancelRequest c;
  auto tenant = body_tenant(*body, request);
  if (!tenant) return fail(tenant.error());
  c.tenant = std::move(*tenant);
  auto ids =
      path_id.empty()
          ? body->strings("ids")
          : Result<std::optional<std::vector<std::string>>>(std::vector<std::string>{std::string(path_id)});
  if (!ids) return fail(ids.error());
  if (!*ids || (*ids)->empty()) return fail(Error::invalid("ids", "ids must list the events to cancel"));
  if ((*ids)->size() > kMaxIds)
    return fail(Error::invalid("ids", fmt::format("at most {} ids per request", kMaxIds)));
  for (const auto& id : **ids) {
    if (auto why = check_identifier(id)) return fail(Error::invalid("ids", "id " + id + " " + *why));
  }
  std::sort((*ids)->begin(), (*ids)->end());
  (*ids)->erase(std::unique((*ids)->begin(), (*ids)->end()), (*ids)->end());
  c.ids = std::move(**ids);
  auto fields = parse_correction_fields(api, *body);
  if (!fields) return fail(fields.error());
  c.fields = std::move(*fields);
  return c;
}

}  // namespace

// POST /v1/events/cancel (and /v1/events/{id}/cancel): withdraws stored events, all or none,
// through the durable writer.
void cancel_events(const ApiContext& api, HttpRequest& request, Responder& respond,
                   std::string_view path_id) {
  if (auto unsupported = corrections_unsupported(api)) return respond(std::move(*unsupported));
  auto c = parse_cancel(api, request, path_id);
  if (!c) return respond(problem(c.error()));
  if (auto denied = forbidden_unless_own(request, c->tenant)) return respond(std::move(*denied));

  auto found = api.log->find_events(c->tenant, c->ids);
  if (!found) return respond(problem(found.error()));
  std::map<std::string, const store::EventLog::Found*> by_id;
  for (const auto& f : *found) by_id[f.event.id] = &f;
  std::vector<std::string> missing;
  for (const auto& id : c->ids) {
    if (!by_id.contains(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    std::string list = fmt::format(
        "{}", fmt::join(missing.begin(), missing.begin() + std::min<std::ptrdiff_t>(10, std::ssize(missing)),
                        ", "));
    return respond(
        problem(Error{ErrorCode::kNotFound,
                      fmt::format("tenant {} has no stored event with id {}{}; nothing was cancelled",
                                  c->tenant, list, missing.size() > 10 ? ", ..." : ""),
                      "ids"}));
  }
  Timestamp now = api.clock.now();
  CorrectionWindow window(api, now);
  std::string metadata = correction_metadata("cancel", c->fields, request);
  std::vector<Event> retractions;
  std::vector<std::string> status(c->ids.size());
  std::vector<std::size_t> submitted(c->ids.size(), SIZE_MAX);
  for (std::size_t i = 0; i < c->ids.size(); ++i) {
    const auto& f = *by_id[c->ids[i]];
    if (f.retraction) {
      std::string by = correction_field(*f.retraction, "correction_id");
      if (by != c->fields.correction_id) {
        return respond(problem(Error{ErrorCode::kConflict,
                                     fmt::format("event {} was already cancelled by correction {} at {}; "
                                                 "nothing was cancelled",
                                                 f.event.id, by, format_rfc3339(f.retraction->received_at)),
                                     "ids"}));
      }
      status[i] = "duplicate";  // this correction, sent again
      if (auto s = window.touch(f.event); !s) return respond(problem(s.error()));
      continue;
    }
    if (auto closed = window.closed(f.event, "ids")) return respond(problem(*closed));
    submitted[i] = retractions.size();
    retractions.push_back(retraction_of(f.event, now, metadata));
  }
  auto stored = store_correction(api, std::move(retractions), window);
  if (!stored) return respond(problem(stored.error()));
  std::int64_t cancelled = 0;
  JsonOut out;
  out.begin_object();
  out.key("correction_id").str(c->fields.correction_id);
  out.key("tenant_id").str(c->tenant);
  out.key("results").begin_array();
  for (std::size_t i = 0; i < c->ids.size(); ++i) {
    const Event& e = by_id[c->ids[i]]->event;
    std::string s = status[i];
    if (submitted[i] != SIZE_MAX) {
      s = stored->outcomes[submitted[i]].kind == ingest::Outcome::kDuplicate ? "duplicate" : "cancelled";
    }
    cancelled += s == "cancelled" ? 1 : 0;
    out.begin_object();
    out.key("id").str(e.id);
    out.key("status").str(s);
    out.key("event_type").str(e.event_type);
    out.key("quantity").dec(e.quantity);
    out.key("timestamp").time(e.timestamp);
    out.end_object();
  }
  out.end_array();
  out.key("cancelled").num(cancelled);
  write_adjustments(out, stored->notes);
  out.end_object();
  respond(out.response(200));
}

namespace {

// GET /v1/tenants/{tenant}/corrections: the retractions stored, newest first.
void list_corrections(const ApiContext& api, HttpRequest& request, const PathParams& params,
                      Responder& respond) {
  std::string tenant(params.at("tenant"));
  if (auto bad = bad_path_tenant(tenant)) return respond(std::move(*bad));
  if (auto hidden = hidden_unless_own(request, tenant)) return respond(std::move(*hidden));
  if (auto unsupported = corrections_unsupported(api)) return respond(std::move(*unsupported));
  auto limit = limit_param(request, 100);
  if (!limit) return respond(problem(limit.error()));
  auto rows = api.log->retractions(tenant, Timestamp{}, api.clock.now() + std::chrono::days(1),
                                   static_cast<std::size_t>(*limit));
  if (!rows) return respond(problem(rows.error()));
  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(tenant);
  out.key("corrections").begin_array();
  for (const Event& r : *rows) {
    out.begin_object();
    out.key("cancels").str(r.cancels);
    out.key("event_type").str(r.event_type);
    out.key("quantity").dec(Decimal::from_units(-r.quantity.units()));
    out.key("timestamp").time(r.timestamp);
    out.key("corrected_at").time(r.received_at);
    out.key("correction").raw(r.metadata);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  respond(out.response(200));
}

}  // namespace

void add_correction_routes(Router& router, const ApiContext& api) {
  router.add(
      "POST", "/v1/events/cancel", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& respond) {
        cancel_events(api, req, respond, {});
      },
      Runs::kInReadPool);
  router.add(
      "POST", "/v1/events/{id}/cancel", Access::kKey,
      [&api](HttpRequest& req, const PathParams& params, Responder& respond) {
        cancel_events(api, req, respond, params.at("id"));
      },
      Runs::kInReadPool);
  router.add(
      "POST", "/v1/events/amend", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& respond) { amend_event(api, req, respond); },
      Runs::kInReadPool);
  router.add(
      "POST", "/v1/events/backfill", Access::kAdmin,
      [&api](HttpRequest& req, const PathParams&, Responder& respond) { backfill_events(api, req, respond); },
      Runs::kInReadPool);
  router.add(
      "POST", "/v1/tenants/{tenant}/replace", Access::kKey,
      [&api](HttpRequest& req, const PathParams& params, Responder& respond) {
        replace_range(api, req, params, respond);
      },
      Runs::kInReadPool);
  router.add(
      "GET", "/v1/tenants/{tenant}/corrections", Access::kKey,
      [&api](HttpRequest& req, const PathParams& params, Responder& respond) {
        list_corrections(api, req, params, respond);
      },
      Runs::kInReadPool);
}

}  // namespace meter::server

// POST /v1/events/amend (docs/corrections.md): a stored event replaced by a corrected one, as
// the event's retraction plus the new event, stored together or not at all.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/identifier.h"
#include "ingest/event_json.h"
#include "ingest/json_walk.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/correction.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// What "set" may change; the timestamp stays the event's.
constexpr std::array<std::string_view, 5> kSettable = {"id", "tenant_id", "event_type", "quantity",
                                                       "metadata"};

struct AmendRequest {
  std::string tenant;
  std::string id;
  CorrectionFields fields;
  std::vector<std::pair<std::string, std::string>> set;  // field, its new value's JSON text
};

Result<AmendRequest> parse_amend(const ApiContext& api, const HttpRequest& request) {
  auto body = JsonBody::parse(request.body);
  if (!body) return fail(body.error());
  if (auto s = body->only({"tenant_id", "id", "set", "reason", "correction_id"}); !s) return fail(s.error());
  AmendRequest a;
  auto tenant = body_tenant(*body, request);
  if (!tenant) return fail(tenant.error());
  a.tenant = std::move(*tenant);
  auto id = body->string("id");
  if (!id) return fail(id.error());
  if (!*id) return fail(Error::invalid("id", "id must name the event to amend"));
  if (auto why = check_identifier(**id)) return fail(Error::invalid("id", "id " + *why));
  a.id = std::move(**id);
  auto set = body_member(request, "set");
  if (!set) return fail(set.error());
  auto changes = ingest::json::object_members(*set);
  if (set->empty() || !changes || changes->empty()) {
    return fail(Error::invalid("set", "set must be an object with the fields to change: " +
                                          fmt::format("{}", fmt::join(kSettable, ", "))));
  }
  for (const auto& [key, value] : *changes) {
    if (std::find(kSettable.begin(), kSettable.end(), key) == kSettable.end()) {
      return fail(Error::invalid("set." + key, fmt::format("set may change only {}; '{}' is not one of them",
                                                           fmt::join(kSettable, ", "), key)));
    }
  }
  a.set = std::move(*changes);
  auto fields = parse_correction_fields(api, *body);
  if (!fields) return fail(fields.error());
  a.fields = std::move(*fields);
  return a;
}

// The amended event: the stored one with the request's changes, checked as any new event. Its
// id is the correction's unless set names one, so a retried amend is a duplicate.
Result<Event> amended(const ApiContext& api, const Event& e, const AmendRequest& a) {
  auto changed = [&](std::string_view key) -> const std::string* {
    for (const auto& [k, v] : a.set) {
      if (k == key) return &v;
    }
    return nullptr;
  };
  JsonOut out;
  out.begin_object();
  auto field = [&](std::string_view key, auto original) {
    out.key(key);
    if (const std::string* v = changed(key))
      out.raw(*v);
    else
      original();
  };
  field("id", [&] { out.str(a.fields.correction_id); });
  field("tenant_id", [&] { out.str(e.tenant_id); });
  field("event_type", [&] { out.str(e.event_type); });
  field("quantity", [&] { out.dec(e.quantity); });
  field("metadata", [&] { out.raw(e.metadata); });
  out.key("timestamp").time(e.timestamp);
  out.end_object();
  auto parsed = ingest::parse_single_event(out.text(), api.limits, api.clock.now());
  if (!parsed) return fail(parsed.error());
  if (parsed->error) {
    Error error = *parsed->error;
    error.field = "set." + error.field;
    error.message = "the amended event's " + error.message;
    return fail(std::move(error));
  }
  return std::move(parsed->event);
}

}  // namespace

void amend_event(const ApiContext& api, HttpRequest& request, Responder& respond) {
  if (auto unsupported = corrections_unsupported(api)) return respond(std::move(*unsupported));
  auto a = parse_amend(api, request);
  if (!a) return respond(problem(a.error()));
  if (auto denied = forbidden_unless_own(request, a->tenant)) return respond(std::move(*denied));
  auto found = api.log->find_events(a->tenant, std::span(&a->id, 1));
  if (!found) return respond(problem(found.error()));
  if (found->empty()) {
    return respond(problem(
        Error{ErrorCode::kNotFound,
              fmt::format("tenant {} has no stored event with id {}; nothing was amended", a->tenant, a->id),
              "id"}));
  }
  const Event& original = found->front().event;
  auto replacement = amended(api, original, *a);
  if (!replacement) return respond(problem(replacement.error()));
  if (auto denied = forbidden_unless_own(request, replacement->tenant_id)) return respond(std::move(*denied));

  std::string status = "amended";
  CorrectionWindow window(api, api.clock.now());
  std::vector<Event> events;  // none when this amend is sent again
  if (const auto& retraction = found->front().retraction) {
    std::string by = correction_field(*retraction, "correction_id");
    if (by != a->fields.correction_id) {
      return respond(
          problem(Error{ErrorCode::kConflict,
                        fmt::format("event {} was already corrected by {} at {}; nothing was amended", a->id,
                                    by, format_rfc3339(retraction->received_at)),
                        "id"}));
    }
    status = "duplicate";  // this amend, sent again: answer with the replacement stored then
    std::string stored_id = correction_field(*retraction, "replaced_by");
    auto earlier = api.log->find_events(replacement->tenant_id, std::span(&stored_id, 1));
    if (earlier && !earlier->empty()) *replacement = std::move(earlier->front().event);
    for (const Event* e : {&original, static_cast<const Event*>(&*replacement)}) {
      if (auto s = window.touch(*e); !s) return respond(problem(s.error()));
    }
  } else {
    Timestamp now = api.clock.now();
    if (auto closed = window.closed(original, "id")) return respond(problem(*closed));
    if (auto closed = window.closed(*replacement, "set")) return respond(problem(*closed));
    events = {retraction_of(original, now, correction_metadata("amend", a->fields, request, replacement->id)),
              *replacement};
  }
  auto stored = store_correction(api, std::move(events), window);
  if (!stored) return respond(problem(stored.error()));
  if (all_duplicates(stored->outcomes)) status = "duplicate";
  JsonOut out;
  out.begin_object();
  out.key("correction_id").str(a->fields.correction_id);
  out.key("status").str(status);
  out.key("cancelled");
  write_corrected_event(out, original);
  out.key("replacement");
  write_corrected_event(out, *replacement);
  write_adjustments(out, stored->notes);
  out.end_object();
  respond(out.response(200));
}

}  // namespace meter::server

// POST /v1/tenants/{tenant}/replace (docs/corrections.md): one tenant's events of one type in a
// time range replaced by a new set, in one commit: readers see the old usage or the new.
#include <fmt/format.h>

#include <set>

#include "core/identifier.h"
#include "ingest/event_json.h"
#include "ingest/json_walk.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/correction.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// The most stored events one request may withdraw: a correction is one commit, held in memory.
constexpr std::size_t kMaxWithdrawn = 100'000;

struct ReplaceRequest {
  std::string event_type;
  Timestamp from, to;
  CorrectionFields fields;
  std::vector<Event> events;
};

Result<Timestamp> time_field(const JsonBody& body, const char* name) {
  auto text = body.string(name);
  if (!text) return fail(text.error());
  if (!*text) return fail(Error::invalid(name, fmt::format("{} is required (RFC 3339)", name)));
  auto t = parse_rfc3339(**text);
  if (!t)
    return fail(Error::invalid(name, fmt::format("{} must be an RFC 3339 time, not '{}'", name, **text)));
  return *t;
}

// The new events: the tenant and type of the range, timestamps inside it, ids unique (made from
// the correction's id where missing, so that the request sent again is a duplicate).
Result<std::vector<Event>> parse_new_events(const ApiContext& api, const HttpRequest& request,
                                            std::string_view tenant, const ReplaceRequest& r) {
  auto text = body_member(request, "events");
  if (!text) return fail(text.error());
  if (text->empty() || text->front() != '[')
    return fail(Error::invalid("events",
                               "events must be an array of the events that replace the range ([] for none)"));
  std::vector<Event> events;
  if (ingest::json::trim(std::string_view(*text).substr(1)) == "]") return events;
  auto items = ingest::parse_events(*text, ingest::BodyFormat::kAuto, api.limits, api.clock.now(), tenant,
                                    r.event_type);
  if (!items) return fail(Error{items.error().code, "events: " + items.error().message, "events"});
  std::set<std::string, std::less<>> ids;
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto& item = (*items)[i];
    std::string where = fmt::format("events[{}]", i);
    if (item.error)
      return fail(Error::invalid(where + "." + item.error->field, where + ": " + item.error->message));
    Event& e = item.event;
    if (e.tenant_id != tenant)
      return fail(Error::invalid(where + ".tenant_id",
                                 fmt::format("{}: the events must be tenant {}'s", where, tenant)));
    if (e.event_type != r.event_type) {
      return fail(Error::invalid(where + ".event_type",
                                 fmt::format("{}: the events must be of type {}", where, r.event_type)));
    }
    if (e.timestamp < r.from || e.timestamp >= r.to) {
      return fail(Error::invalid(where + ".timestamp", fmt::format("{}: timestamp {} is outside [from, to)",
                                                                   where, format_rfc3339(e.timestamp))));
    }
    if (e.id_generated) {
      e.id = fmt::format("{}:{}", r.fields.correction_id, i);
      e.id_generated = false;  // the correction's own, the same when it is sent again
      if (auto why = check_identifier(e.id))
        return fail(
            Error::invalid(where + ".id", fmt::format("{}: give the event an id; {} {}", where, e.id, *why)));
    }
    if (!ids.insert(e.id).second)
      return fail(Error::invalid(where + ".id", fmt::format("{}: id {} appears twice", where, e.id)));
    events.push_back(std::move(e));
  }
  return events;
}

Result<ReplaceRequest> parse_replace(const ApiContext& api, const HttpRequest& request,
                                     std::string_view tenant) {
  auto body = JsonBody::parse(request.body);
  if (!body) return fail(body.error());
  if (auto s = body->only({"event_type", "from", "to", "events", "reason", "correction_id"}); !s)
    return fail(s.error());
  ReplaceRequest r;
  auto type = body->string("event_type");
  if (!type) return fail(type.error());
  if (!*type) return fail(Error::invalid("event_type", "event_type is required"));
  if (auto why = check_identifier(**type)) return fail(Error::invalid("event_type", "event_type " + *why));
  r.event_type = std::move(**type);
  auto from = time_field(*body, "from");
  if (!from) return fail(from.error());
  auto to = time_field(*body, "to");
  if (!to) return fail(to.error());
  if (*to <= *from) return fail(Error::invalid("to", "to must be after from"));
  r.from = *from;
  r.to = *to;
  auto fields = parse_correction_fields(api, *body);
  if (!fields) return fail(fields.error());
  r.fields = std::move(*fields);
  auto events = parse_new_events(api, request, tenant, r);
  if (!events) return fail(events.error());
  r.events = std::move(*events);
  return r;
}

void write_total(JsonOut& out, std::string_view name, std::span<const Event> events) {
  Decimal sum;
  for (const Event& e : events) sum = sum.checked_add(e.quantity).value_or(sum);
  out.key(name).begin_object();
  out.key("events").num(static_cast<std::int64_t>(events.size()));
  out.key("quantity").dec(sum);
  out.end_object();
}

}  // namespace

void replace_range(const ApiContext& api, HttpRequest& request, const PathParams& params,
                   Responder& respond) {
  std::string tenant(params.at("tenant"));
  if (auto bad = bad_path_tenant(tenant)) return respond(std::move(*bad));
  if (auto denied = forbidden_unless_own(request, tenant)) return respond(std::move(*denied));
  if (auto unsupported = corrections_unsupported(api)) return respond(std::move(*unsupported));
  auto r = parse_replace(api, request, tenant);
  if (!r) return respond(problem(r.error()));
  auto withdrawn = api.log->live_events(tenant, r->event_type, r->from, r->to, kMaxWithdrawn + 1);
  if (!withdrawn) return respond(problem(withdrawn.error()));
  if (withdrawn->size() > kMaxWithdrawn) {
    return respond(problem(Error{ErrorCode::kTooLarge,
                                 fmt::format("tenant {} has more than {} {} events in this range; replace it "
                                             "in shorter ranges",
                                             tenant, kMaxWithdrawn, r->event_type),
                                 "from"}));
  }
  // Stored events that are among the new ones (this request, sent again) stay.
  std::set<std::string_view> new_ids;
  for (const Event& e : r->events) new_ids.insert(e.id);
  std::erase_if(*withdrawn, [&](const Event& e) { return new_ids.contains(e.id); });

  Timestamp now = api.clock.now();
  CorrectionWindow window(api, now);
  std::string metadata = correction_metadata("replace", r->fields, request);
  std::vector<Event> events;
  events.reserve(withdrawn->size() + r->events.size());
  for (const Event& e : *withdrawn) {
    if (auto closed = window.closed(e, "from")) return respond(problem(*closed));
    events.push_back(retraction_of(e, now, metadata));
  }
  for (const Event& e : r->events) {
    if (auto closed = window.closed(e, "events")) return respond(problem(*closed));
    events.push_back(e);
  }
  auto done = store_correction(api, std::move(events), window);
  if (!done) return respond(problem(done.error()));

  JsonOut out;
  out.begin_object();
  out.key("correction_id").str(r->fields.correction_id);
  out.key("tenant_id").str(tenant);
  out.key("event_type").str(r->event_type);
  out.key("from").time(r->from);
  out.key("to").time(r->to);
  out.key("status").str(all_duplicates(done->outcomes) ? "duplicate" : "replaced");
  write_total(out, "withdrawn", *withdrawn);
  write_total(out, "added", r->events);
  write_adjustments(out, done->notes);
  out.end_object();
  respond(out.response(200));
}

}  // namespace meter::server

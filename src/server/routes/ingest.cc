#include <fmt/format.h>

#include "ingest/cloud_event.h"
#include "ingest/event_json.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is JSON all
// the same, so it and text/plain are read as JSON rather than refused.
bool is_json_type(std::string_view type) {
  return type.empty() || type == "application/json" || type == "application/x-www-form-urlencoded" ||
         type == "text/plain";
}

bool is_ndjson_type(std::string_view type) {
  return type == "application/x-ndjson" || type == "application/ndjson" || type == "application/jsonl" ||
         type == "application/x-jsonlines";
}

constexpr std::string_view kCloudEvent = "application/cloudevents+json";
constexpr std::string_view kCloudEventBatch = "application/cloudevents-batch+json";

HttpResponse unsupported_type(std::string_view type) {
  return problem(415, "Unsupported Media Type",
                 "Content-Type " + std::string(type) +
                     " is not accepted; send application/json, application/x-ndjson or CloudEvents "
                     "(application/cloudevents+json, application/cloudevents-batch+json)");
}

// The writer's refusals name meterd's fields; a CloudEvent's sender knows its attributes.
void name_attributes(ingest::Outcomes& outcomes) {
  for (auto& o : outcomes) {
    if (o.error) o.error->field = ingest::cloud_event_attribute(o.error->field);
  }
}

// /track's one event: meterd's JSON, a structured CloudEvent, or a binary-mode one (ce-*
// headers, the body is its data).
Result<ingest::ParsedEvent> parse_track_event(const ApiContext& api, const HttpRequest& request) {
  std::string_view tenant = request.principal.tenant_id;
  if (request.content_type == kCloudEvent) {
    auto items = ingest::parse_cloud_events(request.body, false, api.cloud_events, api.limits,
                                            api.clock.now(), tenant);
    if (!items) return fail(items.error());
    return std::move(items->front());
  }
  if (!request.cloud_event_headers.empty()) {
    ingest::CloudEventHeaders headers{request.cloud_event_headers, request.content_type};
    return ingest::parse_binary_cloud_event(headers, request.body, api.cloud_events, api.limits,
                                            api.clock.now(), tenant);
  }
  return ingest::parse_single_event(request.body, api.limits, api.clock.now(), tenant);
}

// /v1/events' events: meterd's JSON or NDJSON, or CloudEvents (one or a batch).
Result<std::vector<ingest::ParsedEvent>> parse_events_body(const ApiContext& api,
                                                           const HttpRequest& request) {
  std::string_view tenant = request.principal.tenant_id;
  if (request.content_type == kCloudEvent || request.content_type == kCloudEventBatch) {
    return ingest::parse_cloud_events(request.body, request.content_type == kCloudEventBatch,
                                      api.cloud_events, api.limits, api.clock.now(), tenant);
  }
  auto format =
      is_ndjson_type(request.content_type) ? ingest::BodyFormat::kNdjson : ingest::BodyFormat::kAuto;
  return ingest::parse_events(request.body, format, api.limits, api.clock.now(), tenant);
}

void write_event(JsonOut& out, const Event& e) {
  out.key("id").str(e.id);
  out.key("tenant_id").str(e.tenant_id);
  out.key("event_type").str(e.event_type);
  out.key("quantity").dec(e.quantity);
  out.key("timestamp").time(e.timestamp);
}

// Charges each tenant's rate limit for its events in this request; when one is over, gives
// back what was taken and answers 429 with the wait in Retry-After.
std::optional<HttpResponse> charge_rate(const ApiContext& api, const std::vector<const Event*>& events) {
  if (api.rate_limiter == nullptr) return std::nullopt;
  std::vector<std::pair<std::string_view, std::uint64_t>> per_tenant;
  for (const Event* e : events) {
    auto it = std::find_if(per_tenant.begin(), per_tenant.end(),
                           [&](const auto& p) { return p.first == e->tenant_id; });
    if (it == per_tenant.end())
      per_tenant.emplace_back(e->tenant_id, 1);
    else
      ++it->second;
  }
  for (std::size_t i = 0; i < per_tenant.size(); ++i) {
    auto wait = api.rate_limiter->acquire(per_tenant[i].first, per_tenant[i].second);
    if (!wait) continue;
    for (std::size_t j = 0; j < i; ++j) api.rate_limiter->refund(per_tenant[j].first, per_tenant[j].second);
    auto seconds = std::max<std::int64_t>(1, (wait->count() + 999) / 1000);
    HttpResponse r = problem(429, "Too Many Requests",
                             "tenant " + std::string(per_tenant[i].first) +
                                 " is over its ingest rate limit; retry in " + std::to_string(seconds) + " s",
                             "tenant_id");
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }
  return std::nullopt;
}

// POST /track: the Python service's single-event body (or one CloudEvent). 200 once the event
// is on disk.
void track(const ApiContext& api, HttpRequest& request, Responder& respond) {
  bool cloud_event = request.content_type == kCloudEvent || !request.cloud_event_headers.empty();
  if (!cloud_event && !is_json_type(request.content_type))
    return respond(unsupported_type(request.content_type));
  auto parsed = parse_track_event(api, request);
  if (!parsed) {
    api.rejects.add("body");
    return respond(problem(parsed.error()));
  }
  if (parsed->error) {
    api.rejects.add(parsed->error->field);
    return respond(problem(*parsed->error));
  }
  if (auto denied = forbidden_unless_own(request, parsed->event.tenant_id))
    return respond(std::move(*denied));
  if (auto limited = charge_rate(api, {&parsed->event})) {
    api.rejects.add("rate_limit");
    return respond(std::move(*limited));
  }
  const Event& e = parsed->event;
  Event echo{e.id, e.tenant_id, e.event_type, e.quantity, e.timestamp, e.received_at, {}, {}};  // no metadata
  std::vector<Event> events;
  events.push_back(std::move(parsed->event));
  api.ingestor.submit(std::move(events), [respond = std::move(respond), echo = std::move(echo),
                                          cloud_event](Result<ingest::Outcomes> stored) mutable {
    respond.later([stored = std::move(stored), echo = std::move(echo), cloud_event]() mutable {
      if (!stored) return problem(stored.error());
      if (cloud_event) name_attributes(*stored);
      const ingest::Outcome& outcome = (*stored)[0];
      if (outcome.kind == ingest::Outcome::kRefused) return problem(*outcome.error);
      bool duplicate = outcome.kind == ingest::Outcome::kDuplicate;
      JsonOut out;
      out.begin_object();
      out.key("status").str(duplicate ? "duplicate" : "accepted");
      out.key("duplicate").boolean(duplicate);
      write_event(out, echo);
      out.end_object();
      return out.response(200);
    });
  });
}

// What the response needs of each item, kept while the events themselves go to the writer.
struct ItemSummary {
  std::string id;
  std::optional<Error> error;
  std::size_t submitted_index = 0;  // position among the submitted events, when valid
};

HttpResponse batch_response(const std::vector<ItemSummary>& items, const ingest::Outcomes* outcomes) {
  std::int64_t accepted = 0, duplicate = 0, rejected = 0, over_quota = 0, unpaid = 0, retry_after = 0;
  const Error* first_error = nullptr;  // what a wholly refused request's problem says
  JsonOut out;
  out.begin_object();
  out.key("results").begin_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const ItemSummary& item = items[i];
    const ingest::Outcome* outcome =
        (outcomes != nullptr && !item.error) ? &(*outcomes)[item.submitted_index] : nullptr;
    const std::optional<Error>& error = outcome != nullptr ? outcome->error : item.error;
    out.begin_object();
    out.key("index").num(static_cast<std::int64_t>(i));
    if (!item.id.empty()) out.key("id").str(item.id);
    if (error) {
      ++rejected;
      if (first_error == nullptr) first_error = &*error;
      if (error->code == ErrorCode::kRateLimited) {
        ++over_quota;
        retry_after = std::max(retry_after, error->retry_after_seconds);
      }
      if (error->code == ErrorCode::kPaymentRequired) ++unpaid;
      out.key("status").str("rejected");
      out.key("error").begin_object();
      out.key("field").str(error->field);
      out.key("detail").str(error->message);
      out.end_object();
    } else if (outcome != nullptr && outcome->kind == ingest::Outcome::kDuplicate) {
      ++duplicate;
      out.key("status").str("duplicate");
    } else {
      ++accepted;
      out.key("status").str("accepted");
    }
    out.end_object();
  }
  out.end_array();
  out.key("accepted").num(accepted);
  out.key("duplicates").num(duplicate);
  out.key("rejected").num(rejected);
  // All stored (or already known): 200. Some rejected: 207. None: 400 as a problem, 429 when
  // every refusal was a quota, 402 when every one was the tenant's credit.
  bool none = rejected == static_cast<std::int64_t>(items.size());
  int status = rejected == 0            ? 200
               : !none                  ? 207
               : over_quota == rejected ? 429
               : unpaid == rejected     ? 402
                                        : 400;
  if (status >= 400) {
    out.key("type").str("about:blank");
    out.key("title").str(status_title(status));
    out.key("status").num(status);
    out.key("detail").str(items.size() == 1
                              ? first_error->message
                              : fmt::format("{}; the first: {}",
                                            status == 429   ? "every event of the batch is over a hard quota"
                                            : status == 402 ? "no event of the batch is covered by credit"
                                                            : "no event in the batch is valid; see results",
                                            first_error->message));
    out.key("field").str(first_error->field);
  }
  out.end_object();
  HttpResponse response = out.response(status);
  if (status >= 400) response.content_type = "application/problem+json";
  if (status == 429) response.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return response;
}

// POST /v1/events: one event, an array, or NDJSON; per-item results.
void post_events(const ApiContext& api, HttpRequest& request, Responder& respond) {
  if (!is_json_type(request.content_type) && !is_ndjson_type(request.content_type) &&
      request.content_type != kCloudEvent && request.content_type != kCloudEventBatch) {
    return respond(unsupported_type(request.content_type));
  }
  auto parsed = parse_events_body(api, request);
  if (!parsed) {
    api.rejects.add("body");
    return respond(problem(parsed.error()));
  }
  // One event for another tenant rejects the whole request, an invalid one included: a key
  // never writes elsewhere, and never learns how another tenant's events would fare.
  for (const auto& p : *parsed) {
    if (p.event.tenant_id.empty()) continue;
    if (auto denied = forbidden_unless_own(request, p.event.tenant_id)) return respond(std::move(*denied));
  }

  std::vector<ItemSummary> items(parsed->size());
  std::vector<Event> events;
  events.reserve(parsed->size());
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    auto& p = (*parsed)[i];
    items[i].id = p.event.id;
    if (p.error) {
      api.rejects.add(p.error->field);
      items[i].error = std::move(p.error);
      continue;
    }
    items[i].submitted_index = events.size();
    events.push_back(std::move(p.event));
  }
  if (events.empty()) return respond(batch_response(items, nullptr));
  std::vector<const Event*> charged;
  charged.reserve(events.size());
  for (const Event& e : events) charged.push_back(&e);
  if (auto limited = charge_rate(api, charged)) {
    api.rejects.add("rate_limit", events.size());
    return respond(std::move(*limited));
  }
  bool cloud_events = request.content_type == kCloudEvent || request.content_type == kCloudEventBatch;
  api.ingestor.submit(std::move(events), [respond = std::move(respond), items = std::move(items),
                                          cloud_events](Result<ingest::Outcomes> stored) mutable {
    respond.later([stored = std::move(stored), items = std::move(items), cloud_events]() mutable {
      if (!stored) return problem(stored.error());
      if (cloud_events) name_attributes(*stored);
      return batch_response(items, &*stored);
    });
  });
}

}  // namespace

void add_ingest_routes(Router& router, const ApiContext& api) {
  router.add("POST", "/track", Access::kKey,
             [&api](HttpRequest& req, const PathParams&, Responder& respond) { track(api, req, respond); });
  router.add(
      "POST", "/v1/events", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& respond) { post_events(api, req, respond); });
}

}  // namespace meter::server

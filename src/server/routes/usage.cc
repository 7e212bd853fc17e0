#include <charconv>

#include "core/identifier.h"
#include "quota/zone.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/scope.h"

namespace meter::server {
namespace {

// An instant from a query parameter: RFC 3339, a date (its midnight in `zone`), or epoch
// milliseconds. Only 1970-01-01 to 9999-12-31 is accepted: bucket arithmetic on instants far
// outside it wraps.
std::optional<Timestamp> parse_instant(std::string_view text, const quota::Zone& zone) {
  constexpr std::int64_t kLastMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
  auto in_range = [](Timestamp t) -> std::optional<Timestamp> {
    std::int64_t ms = to_unix_ms(t);
    if (ms < 0 || ms > kLastMs) return std::nullopt;
    return t;
  };
  if (auto t = parse_rfc3339(text)) return in_range(*t);
  if (auto t = parse_date(text)) return in_range(*t) ? in_range(zone.midnight_of(*t)) : std::nullopt;
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size() && ms >= 0 && ms <= kLastMs)
    return from_unix_ms(ms);
  return std::nullopt;
}

// ?time_zone=: an IANA zone, or "tenant" for the tenant's billing zone; UTC when absent.
Result<quota::Zone> usage_zone(const ApiContext& api, const HttpRequest& request, const std::string& tenant) {
  auto name = request.param("time_zone");
  if (!name || name->empty()) return quota::Zone::utc();
  if (*name == "tenant") return api.quotas.get(tenant)->zone;
  auto zone = quota::Zone::find(*name);
  if (!zone) return fail(Error::invalid("time_zone", zone.error().message + " (or use time_zone=tenant)"));
  return zone;
}

// A day or month bucket in a zone other than UTC, which the rollups (UTC) do not have.
bool zoned(const store::UsageQuery& q, const quota::Zone& zone) {
  return q.window != Window::kHour && zone.name() != "UTC";
}

quota::Period period_of(Window window) {
  return window == Window::kMonth ? quota::Period::kMonth : quota::Period::kDay;
}

struct ZonedQuery {
  store::UsageQuery query;
  quota::Zone zone;
};

Result<ZonedQuery> usage_query(const ApiContext& api, const HttpRequest& request) {
  store::UsageQuery q;
  auto tenant = request.param("tenant_id");
  if (!tenant) return fail(Error::invalid("tenant_id", "tenant_id is required"));
  if (auto why = check_identifier(*tenant)) return fail(Error::invalid("tenant_id", "tenant_id " + *why));
  q.tenant_id = std::string(*tenant);
  auto zone = usage_zone(api, request, q.tenant_id);
  if (!zone) return fail(zone.error());
  Timestamp now = api.clock.now();
  if (auto type = request.param("event_type"); type && !type->empty()) {
    if (auto why = check_identifier(*type)) return fail(Error::invalid("event_type", "event_type " + *why));
    q.event_type = std::string(*type);
  }
  q.window = Window::kDay;
  if (auto w = request.param("window")) {
    auto window = parse_window(*w);
    if (!window) return fail(Error::invalid("window", "window must be hour, day or month"));
    q.window = *window;
  }
  q.from = zone->period_start(quota::Period::kMonth, now);
  q.to = now;
  for (auto [name, target] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    if (auto text = request.param(name)) {
      auto t = parse_instant(*text, *zone);
      if (!t) {
        return fail(Error::invalid(name, std::string(name) +
                                             " must be RFC 3339, YYYY-MM-DD or epoch milliseconds, "
                                             "between 1970 and 9999"));
      }
      *target = *t;
    }
  }
  q.from = zoned(q, *zone) ? zone->period_start(period_of(q.window), q.from) : floor_to(q.window, q.from);
  if (q.to <= q.from) return fail(Error::invalid("to", "to must be after from"));
  return ZonedQuery{std::move(q), *zone};
}

// The usage rows of a query; local days and months are summed from quarter-hour rollups.
Result<std::vector<store::UsageRow>> usage_rows(const ApiContext& api, store::UsageQuery query,
                                                const quota::Zone& zone) {
  if (!zoned(query, zone)) return api.usage.usage(query);
  quota::Period period = period_of(query.window);
  query.window = Window::kQuarterHour;
  auto quarters = api.usage.usage(query);
  if (!quarters) return quarters;
  return store::rebucket(*quarters, [&](Timestamp t) { return zone.period_start(period, t); });
}

void get_usage(const ApiContext& api, HttpRequest& request, Responder& respond) {
  auto zoned_query = usage_query(api, request);
  if (!zoned_query) return respond(problem(zoned_query.error()));
  const store::UsageQuery* query = &zoned_query->query;
  const quota::Zone* zone = &zoned_query->zone;
  if (auto hidden = hidden_unless_own(request, query->tenant_id)) return respond(std::move(*hidden));
  std::string group_by(request.param("group_by").value_or(""));
  if (!group_by.empty() && !pricing::is_metadata_field(group_by)) {
    return respond(problem(
        Error::invalid("group_by", "group_by must be a metadata field name (letters, digits, _, -)")));
  }
  auto rows = usage_rows(api, *query, *zone);
  if (!rows) return respond(problem(rows.error()));

  auto totals = store::totals_by_type(*rows);
  if (!totals) return respond(problem(totals.error()));
  // ?group_by=FIELD: one pass over the raw events for every event type (or the one asked for).
  Result<std::vector<store::AggregateRow>> groups;
  if (!group_by.empty()) {
    groups = api.usage.aggregate_raw({query->tenant_id, query->event_type.value_or(""), query->from,
                                      query->to, Aggregation::kSum, "", group_by, false});
    if (!groups) return respond(problem(groups.error()));
  }

  JsonOut out;
  out.begin_object();
  out.key("tenant_id").str(query->tenant_id);
  out.key("window").str(window_name(query->window));
  out.key("time_zone").str(zone->name());
  out.key("from").time(query->from);
  out.key("to").time(query->to);
  out.key("event_type");
  if (query->event_type)
    out.str(*query->event_type);
  else
    out.null();
  out.key("buckets").begin_array();
  for (const auto& row : *rows) {
    out.begin_object();
    out.key("start").time(row.bucket_start);
    out.key("event_type").str(row.event_type);
    out.key("quantity").dec(row.quantity);
    out.key("events").num(row.events);
    out.end_object();
  }
  out.end_array();
  out.key("totals").begin_array();
  for (const auto& t : *totals) {
    out.begin_object();
    out.key("event_type").str(t.event_type);
    out.key("quantity").dec(t.quantity);
    out.key("events").num(t.events);
    out.end_object();
  }
  out.end_array();
  // ?group_by=FIELD: totals over the range per value of a metadata field, from raw events.
  if (!group_by.empty()) {
    out.key("group_by").str(group_by);
    out.key("groups").begin_array();
    for (const auto& g : *groups) {
      out.begin_object();
      out.key("event_type").str(g.event_type);
      out.key("group").str(g.group);
      out.key("quantity").dec(g.value);
      out.key("events").num(g.events);
      out.end_object();
    }
    out.end_array();
  }
  out.end_object();
  respond(out.response());
}

}  // namespace

void add_usage_routes(Router& router, const ApiContext& api) {
  router.add(
      "GET", "/v1/usage", Access::kKey,
      [&api](HttpRequest& req, const PathParams&, Responder& respond) { get_usage(api, req, respond); },
      Runs::kInReadPool);
}

}  // namespace meter::server

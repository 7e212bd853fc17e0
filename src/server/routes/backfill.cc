// POST /v1/events/backfill (docs/corrections.md): events of any age, for an admin filling a gap
// from logs. Ids stored at any time are duplicates (looked up in the store, not only in the
// dedupe window); the batch is stored all or none; the finalized months it reaches are named and
// get adjustment notes.
#include <fmt/format.h>

#include <map>
#include <set>

#include "ingest/event_json.h"
#include "server/json.h"
#include "server/problem.h"
#include "server/routes/correction.h"

namespace meter::server {

void backfill_events(const ApiContext& api, HttpRequest& request, Responder& respond) {
  if (auto unsupported = corrections_unsupported(api)) return respond(std::move(*unsupported));
  auto parsed = ingest::parse_events(request.body, ingest::BodyFormat::kAuto, api.limits, api.clock.now());
  if (!parsed) return respond(problem(parsed.error()));
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    if (const auto& error = (*parsed)[i].error) {
      return respond(problem(Error{
          error->code, fmt::format("event {}: {}; nothing was stored", i, error->message), error->field}));
    }
  }
  // Ids already stored, however long ago: the dedupe index only knows its window.
  std::map<std::string, std::vector<std::string>> ids;  // per tenant
  for (const auto& p : *parsed) ids[p.event.tenant_id].push_back(p.event.id);
  std::set<std::pair<std::string, std::string>> stored;
  for (const auto& [tenant, list] : ids) {
    auto found = api.log->find_events(tenant, list);
    if (!found) return respond(problem(found.error()));
    for (const auto& f : *found) stored.insert({tenant, f.event.id});
  }
  CorrectionWindow window(api, api.clock.now());
  std::vector<Event> events;
  std::vector<std::size_t> submitted(parsed->size(), SIZE_MAX);
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    Event& e = (*parsed)[i].event;
    if (stored.contains({e.tenant_id, e.id})) continue;
    if (auto s = window.touch(e); !s) return respond(problem(s.error()));
    submitted[i] = events.size();
    events.push_back(std::move(e));
  }
  auto done = store_correction(api, std::move(events), window);
  if (!done) return respond(problem(done.error()));

  std::int64_t accepted = 0;
  JsonOut out;
  out.begin_object();
  out.key("results").begin_array();
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    bool fresh = submitted[i] != SIZE_MAX && done->outcomes[submitted[i]].kind == ingest::Outcome::kStored;
    accepted += fresh ? 1 : 0;
    out.begin_object();
    out.key("id").str((*parsed)[i].event.id);
    out.key("status").str(fresh ? "accepted" : "duplicate");
    out.end_object();
  }
  out.end_array();
  out.key("accepted").num(accepted);
  out.key("duplicates").num(static_cast<std::int64_t>(parsed->size()) - accepted);
  out.key("finalized_months").begin_array();
  for (const auto& [tenant, month] : window.reached()) {
    out.begin_object();
    out.key("tenant_id").str(tenant);
    out.key("month").str(fmt::format("{:04d}-{:02d}", month / 100, month % 100));
    out.end_object();
  }
  out.end_array();
  write_adjustments(out, done->notes);
  out.end_object();
  respond(out.response(200));
}

}  // namespace meter::server

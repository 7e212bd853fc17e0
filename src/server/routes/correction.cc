#include "server/routes/correction.h"

#include <fmt/format.h>

#include <future>

#include "core/identifier.h"
#include "ingest/json_walk.h"
#include "server/json.h"
#include "server/problem.h"

namespace meter::server {
namespace {

constexpr std::size_t kMaxReason = 500;

// The YYYYMM of the tenant's local month holding t: the key its finalized invoice has.
int local_month(const quota::Zone& zone, Timestamp t) {
  return month_key(zone.period_start(quota::Period::kMonth, t) + std::chrono::days(15));
}

}  // namespace

Result<CorrectionFields> parse_correction_fields(const ApiContext& api, const JsonBody& body) {
  CorrectionFields c;
  auto reason = body.string("reason");
  if (!reason) return fail(reason.error());
  c.reason = reason->value_or("");
  if (c.reason.size() > kMaxReason)
    return fail(Error::invalid("reason", fmt::format("reason must be at most {} bytes", kMaxReason)));
  auto correction = body.string("correction_id");
  if (!correction) return fail(correction.error());
  c.correction_id = correction->value_or(new_event_id(api.clock.now()));
  if (auto why = check_identifier(c.correction_id))
    return fail(Error::invalid("correction_id", "correction_id " + *why));
  return c;
}

std::optional<HttpResponse> corrections_unsupported(const ApiContext& api) {
  if (api.log != nullptr) return std::nullopt;
  return problem(
      Error::unimplemented("corrections are not supported with this store yet (docs/corrections.md)"));
}

Result<bool> CorrectionWindow::finalized(const Event& e, int& month) {
  month = local_month(api_.quotas.get(e.tenant_id)->zone, e.timestamp);
  auto [it, fresh] = finalized_.try_emplace({e.tenant_id, month}, false);
  if (fresh) {
    auto snapshot = api_.records.finalized_invoice(e.tenant_id, month);
    if (!snapshot) {
      finalized_.erase(it);
      return fail(snapshot.error());
    }
    it->second = snapshot->has_value();
  }
  return it->second;
}

Status CorrectionWindow::touch(const Event& e) {
  int month = 0;
  auto done = finalized(e, month);
  if (!done) return fail(done.error());
  if (*done) reached_.insert({e.tenant_id, month});
  return {};
}

std::optional<Error> CorrectionWindow::closed(const Event& e, const char* field) {
  int month = 0;
  auto done = finalized(e, month);
  if (!done) return done.error();
  if (*done && api_.correction_window.count() == 0) {
    return Error{
        ErrorCode::kConflict,
        fmt::format("event {} is in {}-{:02}, whose invoice for tenant {} is finalized and cannot "
                    "change (set corrections.window_days to correct finalized months with adjustment "
                    "notes); nothing was corrected",
                    e.id, month / 100, month % 100, e.tenant_id),
        field};
  }
  if (api_.correction_window.count() > 0 && e.timestamp < now_ - api_.correction_window) {
    return Error{ErrorCode::kConflict,
                 fmt::format("event {} ({}) is older than the correction window of {} days "
                             "(corrections.window_days); nothing was corrected",
                             e.id, format_rfc3339(e.timestamp), api_.correction_window.count()),
                 field};
  }
  if (*done) reached_.insert({e.tenant_id, month});
  return std::nullopt;
}

Result<std::vector<std::string>> CorrectionWindow::adjust() {
  std::vector<std::string> numbers;
  for (const auto& [tenant, month] : reached_) {
    billing::Invoicer& invoicer = api_.adjuster != nullptr ? *api_.adjuster : api_.invoicer;
    auto note = invoicer.adjust(tenant, month / 100, month % 100, api_.clock.now());
    if (!note) {
      Error e = note.error();
      e.message = "the correction is stored, but issuing the adjustment note of " + tenant + " for " +
                  fmt::format("{}-{:02}", month / 100, month % 100) + " failed (" + e.message +
                  "); send the same request again to issue it";
      return fail(std::move(e));
    }
    if (*note) numbers.push_back((*note)->number);
  }
  return numbers;
}

void write_adjustments(JsonOut& out, const std::vector<std::string>& numbers) {
  out.key("adjustments").begin_array();
  for (const auto& n : numbers) out.str(n);
  out.end_array();
}

std::string correction_metadata(std::string_view kind, const CorrectionFields& c, const HttpRequest& request,
                                std::string_view replaced_by) {
  JsonOut out;
  out.begin_object();
  out.key("correction_id").str(c.correction_id);
  out.key("kind").str(kind);
  out.key("reason").str(c.reason);
  out.key("by").str(request.principal.key_id.empty() ? "anonymous" : request.principal.key_id);
  if (!replaced_by.empty()) out.key("replaced_by").str(replaced_by);
  out.end_object();
  return out.text();
}

std::string correction_field(const Event& retraction, std::string_view key) {
  auto body = JsonBody::parse(retraction.metadata);
  if (!body) return "";
  auto value = body->string(key);
  return value && *value ? **value : "";
}

Result<StoredCorrection> store_correction(const ApiContext& api, std::vector<Event> events,
                                          CorrectionWindow& window) {
  StoredCorrection out;
  if (!events.empty()) {
    std::promise<Result<ingest::Outcomes>> stored;
    auto done = stored.get_future();
    api.ingestor.submit(
        std::move(events), [&stored](Result<ingest::Outcomes> r) { stored.set_value(std::move(r)); },
        ingest::Ingestor::Kind::kCorrection);
    auto outcomes = done.get();
    if (!outcomes) return fail(outcomes.error());
    out.outcomes = std::move(*outcomes);
  }
  auto notes = window.adjust();
  if (!notes) return fail(notes.error());
  out.notes = std::move(*notes);
  return out;
}

bool all_duplicates(const ingest::Outcomes& outcomes) {
  return !outcomes.empty() && std::all_of(outcomes.begin(), outcomes.end(), [](const ingest::Outcome& o) {
    return o.kind == ingest::Outcome::kDuplicate;
  });
}

Result<std::string> body_member(const HttpRequest& request, std::string_view key) {
  auto members = ingest::json::object_members(request.body);
  if (!members) return fail(members.error());
  for (auto& [k, v] : *members) {
    if (k == key) return std::move(v);
  }
  return std::string();
}

void write_corrected_event(JsonOut& out, const Event& e) {
  out.begin_object();
  out.key("id").str(e.id);
  out.key("tenant_id").str(e.tenant_id);
  out.key("event_type").str(e.event_type);
  out.key("quantity").dec(e.quantity);
  out.key("timestamp").time(e.timestamp);
  out.end_object();
}

}  // namespace meter::server

#pragma once

// What the correction routes share (docs/corrections.md): a correction's id and reason, whether
// an event may still be corrected, the audit metadata, and storing through the writer.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "server/http_types.h"
#include "server/json.h"
#include "server/json_body.h"
#include "server/routes/api_context.h"

namespace meter::server {

// What every correction request says besides its events.
struct CorrectionFields {
  std::string correction_id;  // given, or a new one
  std::string reason;
};
Result<CorrectionFields> parse_correction_fields(const ApiContext& api, const JsonBody& body);

// The answer while the configured store cannot correct events; nullopt when it can.
std::optional<HttpResponse> corrections_unsupported(const ApiContext& api);

// Whether events may still be corrected, and which finalized months a correction reaches. By
// default (corrections.window_days = 0) until the event's month is finalized for its tenant;
// with a window, while the event is that recent, a finalized month then getting an adjustment
// note instead of a changed invoice. Each tenant-month is looked up once.
class CorrectionWindow {
 public:
  CorrectionWindow(const ApiContext& api, Timestamp now) : api_(api), now_(now) {}
  // Why `e` may not be corrected, naming `field`; nullopt when it may (and its month is noted).
  std::optional<Error> closed(const Event& e, const char* field);
  // Notes the month of an event the correction touched (also one it had touched before).
  Status touch(const Event& e);
  // Issues the adjustment notes of the finalized months touched; their numbers.
  Result<std::vector<std::string>> adjust();
  // The finalized months touched: (tenant, YYYYMM).
  const std::set<std::pair<std::string, int>>& reached() const { return reached_; }

 private:
  Result<bool> finalized(const Event& e, int& month);

  const ApiContext& api_;
  Timestamp now_;
  std::map<std::pair<std::string, int>, bool> finalized_;
  std::set<std::pair<std::string, int>> reached_;  // finalized months touched
};

// Adds the adjustment notes a correction issued to its response.
void write_adjustments(JsonOut& out, const std::vector<std::string>& numbers);

// The metadata of a retraction: the correction it belongs to, its kind, who made it and why,
// and the event that replaces the withdrawn one (amend).
std::string correction_metadata(std::string_view kind, const CorrectionFields& c, const HttpRequest& request,
                                std::string_view replaced_by = {});
// A field of a stored retraction's metadata ("" when absent).
std::string correction_field(const Event& retraction, std::string_view key);

// Stores a correction's events through the writer (all or none; none may be given) and waits,
// then issues the adjustment notes of the finalized months `window` saw touched.
struct StoredCorrection {
  ingest::Outcomes outcomes;       // one per event given
  std::vector<std::string> notes;  // the numbers of the notes issued
};
Result<StoredCorrection> store_correction(const ApiContext& api, std::vector<Event> events,
                                          CorrectionWindow& window);
// Whether there are outcomes and every one is a duplicate: the correction was sent again.
bool all_duplicates(const ingest::Outcomes& outcomes);

// The exact JSON text of a member of the request body's object ("" when absent).
Result<std::string> body_member(const HttpRequest& request, std::string_view key);

// An event as the correction responses show it.
void write_corrected_event(JsonOut& out, const Event& e);

// The correction routes (their own files), added by add_correction_routes.
void cancel_events(const ApiContext& api, HttpRequest& request, Responder& respond, std::string_view path_id);
void amend_event(const ApiContext& api, HttpRequest& request, Responder& respond);
void replace_range(const ApiContext& api, HttpRequest& request, const PathParams& params, Responder& respond);
void backfill_events(const ApiContext& api, HttpRequest& request, Responder& respond);

}  // namespace meter::server

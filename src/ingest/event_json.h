#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "ingest/limits.h"

namespace meter::ingest {

enum class BodyFormat {
  kAuto,    // '[' starts an array; '{' one object, or NDJSON when more objects follow
  kNdjson,  // one JSON object per line; blank lines are skipped
};

// One item of a request: either a valid event or the reason it was rejected.
struct ParsedEvent {
  Event event;
  std::optional<Error> error;
};

// Parses an ingest body: one event object, a JSON array of them, or NDJSON.
// An item with a missing or wrong field is returned with its error, so a batch can be partly
// accepted. A body that is not JSON at all, is empty, or holds more than
// limits.max_events_per_request items fails as a whole. Quantities are read from the number's
// text, never through a double. Items get received_at = now, and a new id when they had none.
// Events without tenant_id get `default_tenant` when it is not empty (the caller's own tenant),
// and without event_type `default_type` likewise. Thread-safe (each thread keeps its own parser).
Result<std::vector<ParsedEvent>> parse_events(std::string_view body, BodyFormat format,
                                              const IngestLimits& limits, Timestamp now,
                                              std::string_view default_tenant = {},
                                              std::string_view default_type = {});

// Parses a body that must be exactly one event object (the Python service's /track).
Result<ParsedEvent> parse_single_event(std::string_view body, const IngestLimits& limits, Timestamp now,
                                       std::string_view default_tenant = {});

}  // namespace meter::ingest

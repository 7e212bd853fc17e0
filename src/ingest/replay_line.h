#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace meter::ingest {

// Turns one line of a JSONL file into a /v1/events event object, for `meterd replay`.
// Accepts meterd's own event format and the Python service's usage_events_fallback.jsonl lines:
// `event_id` is read as `id`; a timestamp without a zone ("2025-11-03T10:00:00.123456", as
// Python's isoformat writes UTC) is taken as UTC; metadata stored as a JSON string is unpacked.
// Numbers keep their exact text. A line without an id gets one derived from its bytes and
// `occurrence` (how many identical lines came before it), so replaying a file twice stores
// each event once. Fails with a message naming the problem (e.g. a torn last line).
Result<std::string> replay_line_to_event(std::string_view line, int occurrence);

}  // namespace meter::ingest

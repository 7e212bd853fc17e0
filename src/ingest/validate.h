#pragma once

#include <optional>

#include "core/error.h"
#include "core/event.h"
#include "ingest/limits.h"

namespace meter::ingest {

// Checks an event that has all its fields set (from JSON or from the C++ API) against the
// identifier rules and the limits. Returns the first problem, naming the field.
std::optional<Error> validate_event(const Event& event, const IngestLimits& limits, Timestamp now);

}  // namespace meter::ingest

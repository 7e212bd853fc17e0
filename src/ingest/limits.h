#pragma once

#include <chrono>
#include <cstddef>

namespace meter::ingest {

// What one event and one request may contain, and how far ahead of "now" a timestamp may be
// (how far behind is the Ingestor's late window).
struct IngestLimits {
  std::size_t max_events_per_request = 10'000;
  std::size_t max_metadata_bytes = 8'192;  // of the stored, minified JSON text
  int max_metadata_depth = 8;              // nesting levels inside "metadata"
  std::chrono::milliseconds future_tolerance = std::chrono::minutes(5);
};

}  // namespace meter::ingest

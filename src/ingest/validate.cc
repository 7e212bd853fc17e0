#include "ingest/validate.h"

#include <fmt/format.h>

#include "core/identifier.h"

namespace meter::ingest {

std::optional<Error> validate_event(const Event& e, const IngestLimits& limits, Timestamp now) {
  if (auto why = check_identifier(e.id)) return Error::invalid("id", "id " + *why);
  if (auto why = check_identifier(e.tenant_id)) return Error::invalid("tenant_id", "tenant_id " + *why);
  if (auto why = check_identifier(e.event_type)) {
    return Error::invalid("event_type", "event_type " + *why);
  }
  if (e.quantity.is_negative()) {
    return Error::invalid("quantity", "quantity must not be negative");
  }
  if (e.timestamp > now + limits.future_tolerance) {
    return Error::invalid(
        "timestamp",
        fmt::format("timestamp {} is more than {} s in the future (server time {})",
                    format_rfc3339(e.timestamp),
                    std::chrono::duration_cast<std::chrono::seconds>(limits.future_tolerance).count(),
                    format_rfc3339(now)));
  }
  // The late-arrival window is checked by the Ingestor, after dedupe: a retry of a stored
  // event must be answered "duplicate" however old its timestamp has become.
  if (e.metadata.size() > limits.max_metadata_bytes) {
    return Error{ErrorCode::kTooLarge,
                 fmt::format("metadata is {} bytes, more than the limit of {}", e.metadata.size(),
                             limits.max_metadata_bytes),
                 "metadata"};
  }
  return std::nullopt;
}

}  // namespace meter::ingest

#include "fuzz/targets.h"

#include <cstdlib>
#include <string_view>

#include "config/load.h"
#include "core/decimal.h"
#include "ingest/event_json.h"

namespace meter::fuzz {
namespace {

std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

void event_json(const std::uint8_t* data, std::size_t size) {
  ingest::IngestLimits limits;
  limits.max_events_per_request = 100;
  Timestamp now = *parse_rfc3339("2026-11-27T10:00:00Z");
  for (auto format : {ingest::BodyFormat::kAuto, ingest::BodyFormat::kNdjson}) {
    auto items = ingest::parse_events(text(data, size), format, limits, now);
    if (!items) continue;
    require(items->size() <= limits.max_events_per_request);
    for (const auto& item : *items) {
      if (item.error) continue;
      // Anything accepted is a complete, valid event with a non-negative exact quantity.
      require(!item.event.tenant_id.empty() && !item.event.event_type.empty() && !item.event.id.empty());
      require(!item.event.quantity.is_negative());
      require(Decimal::parse(item.event.quantity.to_string()) == item.event.quantity);
      require(item.event.metadata.size() <= limits.max_metadata_bytes);
    }
  }
  (void)ingest::parse_single_event(text(data, size), limits, now, "fuzz_tenant");
}

void decimal(const std::uint8_t* data, std::size_t size) {
  auto d = Decimal::parse(text(data, size));
  if (!d) return;
  // Printing and parsing again gives the same value; arithmetic never wraps.
  require(Decimal::parse(d->to_string()) == d);
  if (auto twice = d->checked_add(*d)) require(twice->checked_sub(*d) == d);
}

void config(const std::uint8_t* data, std::size_t size) {
  (void)config::parse_dotenv(text(data, size));
  config::LoadedConfig loaded;
  (void)config::apply_toml_text(loaded, text(data, size), "fuzz.toml");
}

}  // namespace meter::fuzz

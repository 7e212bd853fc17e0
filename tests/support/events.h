#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace meter::testing {

// An event as the ingest writer receives it: validated, with received_at = timestamp.
inline Event make_event(std::string tenant, std::string id, std::string type, std::string_view quantity,
                        Timestamp at) {
  Event e;
  e.id = std::move(id);
  e.tenant_id = std::move(tenant);
  e.event_type = std::move(type);
  e.quantity = *Decimal::parse(quantity);
  e.timestamp = at;
  e.received_at = at;
  return e;
}

// A generated month: tenants in UTC, a half-hour zone and a DST zone, events every few minutes
// from the last days of September to the first of November, several meters and fractions.
inline std::vector<Event> generated_month() {
  std::vector<Event> events;
  Timestamp start = *parse_rfc3339("2026-09-29T00:00:00Z");
  const char* types[] = {"query", "input_tokens", "output_tokens", "storage_gb"};
  for (int i = 0; i < 12'000; ++i) {
    Timestamp at = start + std::chrono::minutes(7 * i) + std::chrono::milliseconds((i * 37) % 1000);
    std::string quantity = std::to_string((i * 13) % 5000) + "." + std::to_string(i % 97);
    events.push_back(
        make_event("tenant_" + std::to_string(i % 3), "g" + std::to_string(i), types[i % 4], quantity, at));
    events.back().metadata = fmt::format(R"({{"model":"m{}","user":"u{}","n":{}}})", i % 5, i % 17, i % 2);
  }
  return events;
}

}  // namespace meter::testing

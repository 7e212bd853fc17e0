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

// Corrections of a generated month (docs/corrections.md): every seventh event cancelled and
// every seventh amended (quantity +1.25, some moved to another type, the grouped model and the
// distinct user changed). `corrections` are the retractions and replacements to store after
// `events`; `kept` is what a store that only ever had the corrected events holds.
struct CorrectedMonth {
  std::vector<Event> corrections, kept;
};
inline CorrectedMonth corrected(const std::vector<Event>& events) {
  CorrectedMonth out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i % 7 != 3 && i % 7 != 5) {
      out.kept.push_back(events[i]);
      continue;
    }
    out.corrections.push_back(retraction_of(events[i], events[i].received_at, R"({"correction_id":"c"})"));
    if (i % 7 == 3) continue;
    Event amended = events[i];
    amended.id = "amend-" + amended.id;
    amended.quantity = *amended.quantity.checked_add(*Decimal::parse("1.25"));
    if (i % 3 == 0) amended.event_type = i % 2 == 0 ? "output_tokens" : "storage_gb";
    amended.metadata = fmt::format(R"({{"model":"m{}","user":"amended{}","n":1}})", i % 2, i % 4);
    out.corrections.push_back(amended);
    out.kept.push_back(amended);
  }
  return out;
}

}  // namespace meter::testing

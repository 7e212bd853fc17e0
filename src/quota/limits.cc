#include "quota/limits.h"

namespace meter::quota {

std::optional<Meter> meter_of(std::string_view event_type) {
  // By length first: this runs for every ingested event.
  switch (event_type.size()) {
    case 5:
      if (event_type == "query") return Meter::kQueries;
      break;
    case 6:
      if (event_type == "tokens") return Meter::kTokens;
      break;
    case 10:
      if (event_type == "storage_gb") return Meter::kStorageGb;
      break;
    case 12:
      if (event_type == "input_tokens") return Meter::kTokens;
      break;
    case 13:
      if (event_type == "output_tokens") return Meter::kTokens;
      break;
    default:
      break;
  }
  return std::nullopt;
}

std::span<const std::string_view> event_types_of(Meter meter) {
  static constexpr std::string_view kQueries[] = {"query"};
  static constexpr std::string_view kTokens[] = {"tokens", "input_tokens", "output_tokens"};
  static constexpr std::string_view kStorage[] = {"storage_gb"};
  switch (meter) {
    case Meter::kQueries:
      return kQueries;
    case Meter::kTokens:
      return kTokens;
    case Meter::kStorageGb:
      return kStorage;
  }
  return {};
}

std::string_view meter_name(Meter meter) {
  switch (meter) {
    case Meter::kQueries:
      return "queries";
    case Meter::kTokens:
      return "tokens";
    case Meter::kStorageGb:
      return "storage_gb";
  }
  return "?";
}

std::optional<Enforcement> parse_enforcement(std::string_view text) {
  if (text == "soft") return Enforcement::kSoft;
  if (text == "hard") return Enforcement::kHard;
  return std::nullopt;
}

std::string_view enforcement_name(Enforcement e) { return e == Enforcement::kHard ? "hard" : "soft"; }

}  // namespace meter::quota

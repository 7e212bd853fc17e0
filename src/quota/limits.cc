#include "quota/limits.h"

namespace meter::quota {

const std::vector<std::pair<std::string, std::vector<std::string>>>& quota_meters() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> meters = {
      {"queries", {"query"}},
      {"tokens", {"input_tokens", "output_tokens", "tokens"}},
      {"storage_gb", {"storage_gb"}},
  };
  return meters;
}

Result<std::vector<QuotaStatus>> evaluate(const QuotaLimits& limits, const std::map<std::string, Decimal>& usage) {
  std::vector<QuotaStatus> out;
  for (const auto& [meter, event_types] : quota_meters()) {
    QuotaStatus s;
    s.meter = meter;
    for (const auto& type : event_types) {
      auto it = usage.find(type);
      if (it == usage.end()) continue;
      auto sum = s.used.checked_add(it->second);
      if (!sum) return fail(Error::invalid(meter, "usage of " + meter + " overflows"));
      s.used = *sum;
    }
    s.limit = meter == "queries" ? limits.queries_per_day
              : meter == "tokens" ? limits.tokens_per_day
                                  : limits.storage_gb;
    if (s.limit) {
      s.exceeded = s.used > *s.limit;
      s.remaining = s.exceeded ? Decimal() : *s.limit->checked_sub(s.used);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace meter::quota

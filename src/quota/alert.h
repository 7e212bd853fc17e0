#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/time.h"
#include "quota/limits.h"

namespace meter::quota {

// A tenant's usage of a meter crossed a share of a limit in a period. Fires once per tenant,
// meter, period and threshold (the store keeps it unique).
struct Alert {
  std::string tenant_id;
  Meter meter = Meter::kQueries;
  Period period = Period::kDay;
  Timestamp period_start;
  int threshold_percent = 0;
  Decimal used;
  Decimal limit;
  Timestamp fired_at;
};

// The thresholds (percent of `limit`) that usage passed on its way from `before` to `after`:
// before < t% of limit <= after.
std::vector<int> crossed_thresholds(Decimal before, Decimal after, Decimal limit,
                                    std::span<const int> thresholds);

// Where alerts go. fire() must not block: it runs in the ingest writer thread.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void fire(Alert alert) = 0;
};

}  // namespace meter::quota

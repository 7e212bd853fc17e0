#pragma once

#include <utility>
#include <vector>

#include "core/decimal.h"
#include "core/error.h"
#include "core/time.h"
#include "quota/zone.h"

namespace meter::billing {

// A gauge (e.g. storage_gb) billed as the month's average of daily maxima: GB-months. Each
// local day of [from, to) in `zone` takes the largest reading of that day; a day without a
// reading keeps the previous day's maximum (what was stored stays stored until a new reading
// says otherwise); days before the first reading of the period count 0. The average over all
// days of the period is rounded half up to Decimal's 12 digits; an error if the daily sum
// overflows. `readings` are (time, value).
Result<Decimal> average_daily_max(const std::vector<std::pair<Timestamp, Decimal>>& readings,
                                  const quota::Zone& zone, Timestamp from, Timestamp to);

}  // namespace meter::billing

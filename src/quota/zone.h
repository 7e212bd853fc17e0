#pragma once

#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace date {
class time_zone;
}

namespace meter::quota {

enum class Period { kDay, kMonth };

// A tenant's calendar: where its days and months begin. IANA names ("Asia/Kolkata"), from the
// system's tz database. Thread-safe and cheap to copy.
class Zone {
 public:
  static Result<Zone> find(std::string_view name);  // error naming the zone when unknown
  static Zone utc();

  std::string_view name() const;
  // The instant the day or month containing t begins, and the one the next begins, in this zone.
  // A local midnight that does not exist (a DST jump) is taken as the first instant after it.
  Timestamp period_start(Period period, Timestamp t) const;
  Timestamp period_end(Period period, Timestamp t) const;

 private:
  explicit Zone(const date::time_zone* zone) : zone_(zone) {}
  const date::time_zone* zone_;
};

}  // namespace meter::quota

#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
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
  // The instant the calendar date of `date` (a UTC midnight, as parse_date gives) begins here.
  Timestamp midnight_of(Timestamp date) const;
  // t moved by whole calendar days or months on the local clock: 2026-01-31 10:00 plus one
  // month is 2026-02-28 10:00 (a month end is clamped, never rolled into March). A local time
  // that does not exist (a DST jump) is taken as the instant the jump ends.
  Timestamp add_days(Timestamp t, int days) const;
  Timestamp add_months(Timestamp t, int months) const;
  // t moved by one ISO 8601 calendar duration ("P30D", "P2W", "P1M", "P1Y") as above; nullopt
  // when `duration` is not one of those (or above 1,200 of its unit).
  std::optional<Timestamp> add_duration(Timestamp t, std::string_view duration) const;
  // The local month containing t, as YYYYMM.
  int month_key(Timestamp t) const;

 private:
  // The last day and month computed, each packed in one word (start in seconds << 22 | length in
  // seconds), so a lookup inside it skips the tz database. One per zone; lock-free.
  struct Cache {
    std::array<std::atomic<std::uint64_t>, 2> window{};
  };

  explicit Zone(const date::time_zone* zone) : zone_(zone), cache_(cache_for(zone)) {}
  static std::shared_ptr<Cache> cache_for(const date::time_zone* zone);
  bool cached(Period period, Timestamp t, Timestamp& start, Timestamp& end) const;
  void compute(Period period, Timestamp t, Timestamp& start, Timestamp& end) const;

  const date::time_zone* zone_;
  std::shared_ptr<Cache> cache_;
};

}  // namespace meter::quota

#include "quota/zone.h"

#include <date/tz.h>

namespace meter::quota {
namespace {

using std::chrono::days;

// The UTC instant of a local midnight; a nonexistent one (clocks jumped over it) maps to the
// instant the jump ends, an ambiguous one to its first occurrence.
Timestamp to_instant(const date::time_zone* zone, date::local_days midnight) {
  auto info = zone->get_info(midnight);
  if (info.result == date::local_info::nonexistent) {
    return std::chrono::floor<std::chrono::milliseconds>(info.second.begin);
  }
  return std::chrono::floor<std::chrono::milliseconds>(zone->to_sys(midnight, date::choose::earliest));
}

date::local_days local_day(const date::time_zone* zone, Timestamp t) {
  return std::chrono::floor<days>(zone->to_local(t));
}

}  // namespace

Result<Zone> Zone::find(std::string_view name) {
  try {
    return Zone(date::locate_zone(name));
  } catch (const std::exception&) {
    return fail(Error::invalid("time_zone", "unknown time zone '" + std::string(name) +
                                                "'; use an IANA name such as Europe/Berlin or UTC"));
  }
}

Zone Zone::utc() { return Zone(date::locate_zone("UTC")); }

std::string_view Zone::name() const { return zone_->name(); }

Timestamp Zone::period_start(Period period, Timestamp t) const {
  date::local_days day = local_day(zone_, t);
  if (period == Period::kMonth) {
    date::year_month_day ymd{day};
    day = date::local_days(ymd.year() / ymd.month() / 1);
  }
  return to_instant(zone_, day);
}

Timestamp Zone::period_end(Period period, Timestamp t) const {
  date::local_days day = local_day(zone_, t);
  date::local_days next;
  if (period == Period::kMonth) {
    date::year_month_day ymd{day};
    next = date::local_days((ymd.year() / ymd.month() + date::months(1)) / 1);
  } else {
    next = day + days(1);
  }
  return to_instant(zone_, next);
}

}  // namespace meter::quota

#include "quota/zone.h"

#include <date/tz.h>

#include <charconv>
#include <map>

#include "core/sync.h"

namespace meter::quota {
namespace {

using std::chrono::days;

// The UTC instant of a local time; a nonexistent one (clocks jumped over it) maps to the
// instant the jump ends, an ambiguous one to its first occurrence.
template <class Duration>
Timestamp to_instant(const date::time_zone* zone, date::local_time<Duration> local) {
  auto info = zone->get_info(local);
  if (info.result == date::local_info::nonexistent) {
    return std::chrono::floor<std::chrono::milliseconds>(info.second.begin);
  }
  return std::chrono::floor<std::chrono::milliseconds>(zone->to_sys(local, date::choose::earliest));
}

date::local_days local_day(const date::time_zone* zone, Timestamp t) {
  return std::chrono::floor<days>(zone->to_local(t));
}

}  // namespace

std::shared_ptr<Zone::Cache> Zone::cache_for(const date::time_zone* zone) {
  // One cache per zone for the whole process: every tenant of a zone reads the same two words,
  // which then stay in the CPU cache (a cache per tenant costs a memory miss per check).
  static Mutex mutex;
  static std::map<const date::time_zone*, std::shared_ptr<Cache>> caches ABSL_GUARDED_BY(mutex);
  MutexLock lock(mutex);
  auto& cache = caches[zone];
  if (!cache) cache = std::make_shared<Cache>();
  return cache;
}

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

bool Zone::cached(Period period, Timestamp t, Timestamp& start, Timestamp& end) const {
  std::uint64_t packed = cache_->window[static_cast<std::size_t>(period)].load(std::memory_order_relaxed);
  if (packed == 0) return false;
  auto start_s = static_cast<std::int64_t>(packed >> 22);
  auto length_s = static_cast<std::int64_t>(packed & ((1u << 22) - 1));
  start = Timestamp(std::chrono::seconds(start_s));
  end = start + std::chrono::seconds(length_s);
  return start <= t && t < end;
}

void Zone::compute(Period period, Timestamp t, Timestamp& start, Timestamp& end) const {
  date::local_days day = local_day(zone_, t);
  date::local_days next;
  if (period == Period::kMonth) {
    date::year_month_day ymd{day};
    day = date::local_days(ymd.year() / ymd.month() / 1);
    next = date::local_days((ymd.year() / ymd.month() + date::months(1)) / 1);
  } else {
    next = day + days(1);
  }
  start = to_instant(zone_, day);
  end = to_instant(zone_, next);
  auto start_s = std::chrono::duration_cast<std::chrono::seconds>(start.time_since_epoch()).count();
  auto length_s = std::chrono::duration_cast<std::chrono::seconds>(end - start).count();
  // Whole seconds after 1970 only (zone offsets are whole minutes); anything else is not cached.
  if (start_s > 0 && start_s < (std::int64_t{1} << 41) && length_s > 0 && length_s < (1 << 22) &&
      Timestamp(std::chrono::seconds(start_s)) == start) {
    cache_->window[static_cast<std::size_t>(period)].store(
        (static_cast<std::uint64_t>(start_s) << 22) | static_cast<std::uint64_t>(length_s),
        std::memory_order_relaxed);
  }
}

Timestamp Zone::period_start(Period period, Timestamp t) const {
  Timestamp start, end;
  if (!cached(period, t, start, end)) compute(period, t, start, end);
  return start;
}

Timestamp Zone::period_end(Period period, Timestamp t) const {
  Timestamp start, end;
  if (!cached(period, t, start, end)) compute(period, t, start, end);
  return end;
}

Timestamp Zone::add_days(Timestamp t, int count) const {
  return to_instant(zone_, zone_->to_local(t) + days(count));
}

int Zone::month_key(Timestamp t) const {
  date::year_month_day ymd{local_day(zone_, t)};
  return static_cast<int>(ymd.year()) * 100 + static_cast<int>(static_cast<unsigned>(ymd.month()));
}

std::optional<Timestamp> Zone::add_duration(Timestamp t, std::string_view text) const {
  if (text.size() < 3 || text.front() != 'P') return std::nullopt;
  int count = 0;
  auto [end, ec] = std::from_chars(text.data() + 1, text.data() + text.size() - 1, count);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || count <= 0 || count > 1200)
    return std::nullopt;
  switch (text.back()) {
    case 'D':
      return add_days(t, count);
    case 'W':
      return add_days(t, 7 * count);
    case 'M':
      return add_months(t, count);
    case 'Y':
      return add_months(t, 12 * count);
    default:
      return std::nullopt;
  }
}

Timestamp Zone::add_months(Timestamp t, int count) const {
  auto local = zone_->to_local(t);
  date::local_days day = std::chrono::floor<days>(local);
  auto time_of_day = local - day;
  date::year_month_day ymd{day};
  date::year_month target = date::year_month(ymd.year(), ymd.month()) + date::months(count);
  date::year_month_day_last last{target.year(), date::month_day_last(target.month())};
  date::year_month_day moved{target.year(), target.month(), std::min(ymd.day(), last.day())};
  return to_instant(zone_, date::local_days(moved) + time_of_day);
}

Timestamp Zone::midnight_of(Timestamp date) const {
  return to_instant(zone_, date::local_days(std::chrono::floor<days>(date).time_since_epoch()));
}

}  // namespace meter::quota

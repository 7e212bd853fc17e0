#include "core/time.h"

#include <date/date.h>

namespace meter {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

// Reads exactly `count` digits at text[pos...]; advances pos.
std::optional<int> read_digits(std::string_view text, std::size_t& pos, int count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (int i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<date::sys_days> read_date(std::string_view text, std::size_t& pos) {
  auto y = read_digits(text, pos, 4);
  if (!y || !expect(text, pos, '-')) return std::nullopt;
  auto m = read_digits(text, pos, 2);
  if (!m || !expect(text, pos, '-')) return std::nullopt;
  auto d = read_digits(text, pos, 2);
  if (!d) return std::nullopt;
  date::year_month_day ymd{date::year(*y), date::month(static_cast<unsigned>(*m)),
                           date::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  return date::sys_days(ymd);
}

Timestamp from_days(date::sys_days d) { return Timestamp(d.time_since_epoch()); }

}  // namespace

std::optional<Timestamp> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  auto day = read_date(text, pos);
  if (!day || pos >= text.size()) return std::nullopt;
  char sep = text[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
  auto hh = read_digits(text, pos, 2);
  if (!hh || !expect(text, pos, ':')) return std::nullopt;
  auto mm = read_digits(text, pos, 2);
  if (!mm || !expect(text, pos, ':')) return std::nullopt;
  auto ss = read_digits(text, pos, 2);
  // 60 would be a leap second; meterd has no use for one and rejects it.
  if (!ss || *hh > 23 || *mm > 59 || *ss > 59) return std::nullopt;

  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }

  minutes offset{0};
  if (pos >= text.size()) return std::nullopt;
  char zone = text[pos++];
  if (zone == '+' || zone == '-') {
    auto oh = read_digits(text, pos, 2);
    if (!oh || !expect(text, pos, ':')) return std::nullopt;
    auto om = read_digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset = hours(*oh) + minutes(*om);
    if (zone == '-') offset = -offset;
  } else if (zone != 'Z' && zone != 'z') {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  return from_days(*day) + hours(*hh) + minutes(*mm) + std::chrono::seconds(*ss) + milliseconds(millis) -
         offset;
}

std::optional<Timestamp> parse_date(std::string_view text) {
  std::size_t pos = 0;
  auto day = read_date(text, pos);
  if (!day || pos != text.size()) return std::nullopt;
  return from_days(*day);
}

std::string format_rfc3339(Timestamp t) {
  // By hand rather than date::format: this runs for every event a response echoes, and the
  // stream-based formatter costs more than the rest of the response.
  auto day = std::chrono::floor<days>(t);
  date::year_month_day ymd{day};
  date::hh_mm_ss<milliseconds> hms{t - day};
  char buffer[32];
  auto put = [](char* at, long value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
  };
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format("%FT%TZ", t);
  put(buffer, year, 4);
  buffer[4] = '-';
  put(buffer + 5, static_cast<unsigned>(ymd.month()), 2);
  buffer[7] = '-';
  put(buffer + 8, static_cast<unsigned>(ymd.day()), 2);
  buffer[10] = 'T';
  put(buffer + 11, hms.hours().count(), 2);
  buffer[13] = ':';
  put(buffer + 14, hms.minutes().count(), 2);
  buffer[16] = ':';
  put(buffer + 17, hms.seconds().count(), 2);
  buffer[19] = '.';
  put(buffer + 20, hms.subseconds().count(), 3);
  buffer[23] = 'Z';
  return std::string(buffer, 24);
}

std::optional<Window> parse_window(std::string_view name) {
  if (name == "hour") return Window::kHour;
  if (name == "day") return Window::kDay;
  if (name == "month") return Window::kMonth;
  return std::nullopt;
}

std::string_view window_name(Window w) {
  switch (w) {
    case Window::kQuarterHour:
      return "quarter_hour";
    case Window::kHour:
      return "hour";
    case Window::kDay:
      return "day";
    case Window::kMonth:
      return "month";
  }
  return "?";
}

Timestamp floor_to(Window w, Timestamp t) {
  switch (w) {
    case Window::kQuarterHour:
      return std::chrono::floor<std::chrono::minutes>(t) -
             std::chrono::floor<std::chrono::minutes>(t).time_since_epoch() % std::chrono::minutes(15);
    case Window::kHour:
      return std::chrono::floor<hours>(t);
    case Window::kDay:
      return std::chrono::floor<days>(t);
    case Window::kMonth: {
      date::year_month_day ymd{std::chrono::floor<days>(t)};
      return from_days(date::sys_days(ymd.year() / ymd.month() / 1));
    }
  }
  return t;
}

Timestamp next_window(Window w, Timestamp t) {
  switch (w) {
    case Window::kQuarterHour:
      return floor_to(w, t) + std::chrono::minutes(15);
    case Window::kHour:
      return floor_to(w, t) + hours(1);
    case Window::kDay:
      return floor_to(w, t) + days(1);
    case Window::kMonth: {
      date::year_month_day ymd{std::chrono::floor<days>(t)};
      return from_days(date::sys_days((ymd.year() / ymd.month() + date::months(1)) / 1));
    }
  }
  return t;
}

int month_key(Timestamp t) {
  date::year_month_day ymd{std::chrono::floor<days>(t)};
  return static_cast<int>(ymd.year()) * 100 + static_cast<int>(static_cast<unsigned>(ymd.month()));
}

Timestamp month_start(int month) {
  return date::sys_days(date::year(month / 100) / date::month(static_cast<unsigned>(month % 100)) / 1);
}

}  // namespace meter

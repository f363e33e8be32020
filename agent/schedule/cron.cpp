#include "schedule/cron.hpp"
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <vector>

namespace pgship::agent {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 12> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> weekday_names = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

struct field_spec {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names = nullptr;  // names[i] stands for min + i
  std::size_t name_count = 0;
};

constexpr field_spec second_field{"second", 0, 59};
constexpr field_spec minute_field{"minute", 0, 59};
constexpr field_spec hour_field{"hour", 0, 23};
constexpr field_spec day_of_month_field{"day-of-month", 1, 31};
constexpr field_spec month_field{"month", 1, 12, month_names.data(), month_names.size()};
// 7 is Sunday as well as 0.
constexpr field_spec day_of_week_field{"day-of-week", 0, 7, weekday_names.data(),
                                       weekday_names.size()};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int> parse_value(std::string_view text, const field_spec& f, std::string& why) {
  int v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (v < f.min || v > f.max) {
      why = std::string(text) + " is out of range " + std::to_string(f.min) + "-" +
            std::to_string(f.max);
      return std::nullopt;
    }
    return v;
  }
  const auto name = lower(text);
  for (std::size_t i = 0; i < f.name_count; ++i) {
    if (f.names[i] == name) return f.min + static_cast<int>(i);
  }
  why = "'" + std::string(text) + "' is not a number" + (f.name_count ? " or a name" : "");
  return std::nullopt;
}

// Sets the bits of one field ("*/15", "1-5", "mon-fri", "1,15", "5/10"); false with `why`.
bool parse_field(std::string_view text, const field_spec& f, std::vector<bool>& bits,
                 std::string& why) {
  bits.assign(static_cast<std::size_t>(f.max + 1), false);
  if (text.empty()) {
    why = "empty";
    return false;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (item.empty()) {
      why = "empty list item";
      return false;
    }
    std::string_view range = item;
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const auto step_text = item.substr(slash + 1);
      const auto [p, ec] =
          std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || p != step_text.data() + step_text.size() || step <= 0) {
        why = "step '" + std::string(step_text) + "' must be a positive number";
        return false;
      }
    }
    int lo = f.min;
    int hi = f.max;
    if (range == "*") {
      if (&f == &day_of_week_field) hi = 6;  // 7 would repeat Sunday
    } else if (const auto dash = range.find('-'); dash != std::string_view::npos) {
      const auto a = parse_value(range.substr(0, dash), f, why);
      if (!a) return false;
      const auto b = parse_value(range.substr(dash + 1), f, why);
      if (!b) return false;
      if (*b < *a) {
        why = "range " + std::string(range) + " goes backwards";
        return false;
      }
      lo = *a;
      hi = *b;
    } else {
      const auto a = parse_value(range, f, why);
      if (!a) return false;
      lo = *a;
      // "5/15" means from 5 to the end in steps of 15; a plain "5" is just 5.
      hi = item.find('/') != std::string_view::npos ? f.max : *a;
    }
    for (int v = lo; v <= hi; v += step)
      bits[static_cast<std::size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return true;
}

template <std::size_t N>
bool set_field(std::string_view text, const field_spec& f, std::bitset<N>& out,
               std::string& error) {
  std::vector<bool> bits;
  std::string why;
  if (!parse_field(text, f, bits, why)) {
    error = std::string(f.name) + " field '" + std::string(text) + "': " + why;
    return false;
  }
  out.reset();
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (!bits[i]) continue;
    out.set(&f == &day_of_week_field && i == 7 ? 0 : i);
  }
  return true;
}

std::string_view expand_macro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return {};
}

long utc_offset(std::time_t t) {
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return tm.tm_gmtoff;
}

// The instant at which the local wall time `wall` (seconds since the epoch, as if UTC)
// happens: the first one when it happens twice, the end of the gap when it never does.
std::time_t resolve_wall_time(std::time_t wall) {
  const long before = utc_offset(wall - 86400);
  const long after = utc_offset(wall + 86400);
  const std::time_t a = wall - before;
  const std::time_t b = wall - after;
  const auto is_valid = [wall](std::time_t u) { return u + utc_offset(u) == wall; };
  const std::time_t first = std::min(a, b);
  const std::time_t second = std::max(a, b);
  if (is_valid(first)) return first;
  if (is_valid(second)) return second;
  // In a gap: the first instant whose wall time is past `wall`.
  std::time_t lo = first;
  std::time_t hi = second;
  while (hi - lo > 1) {
    const std::time_t mid = lo + (hi - lo) / 2;
    if (mid + utc_offset(mid) > wall) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

bool day_matches(const cron_expr& e, const year_month_day& ymd) {
  const bool dom = e.days_of_month.test(static_cast<unsigned>(ymd.day()));
  const bool dow = e.days_of_week.test(weekday(sys_days(ymd)).c_encoding());
  if (e.day_of_month_star || e.day_of_week_star) return dom && dow;
  return dom || dow;
}

}  // namespace

std::time_t local_wall_time(std::time_t wall) {
  return resolve_wall_time(wall);
}

std::optional<cron_expr> parse_cron(std::string_view text, std::string& error) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  cron_expr e;
  e.text = std::string(text);
  std::string_view body = text;
  if (text.starts_with('@')) {
    const auto macro = lower(text);
    body = expand_macro(macro);
    if (body.empty()) {
      error = "'" + std::string(text) +
              "' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly";
      return std::nullopt;
    }
  }
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < body.size();) {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i])))
      ++i;
    const std::size_t start = i;
    while (i < body.size() && !std::isspace(static_cast<unsigned char>(body[i])))
      ++i;
    if (i > start) fields.push_back(body.substr(start, i - start));
  }
  if (fields.size() != 5 && fields.size() != 6) {
    error =
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds "
        "first, got " +
        std::to_string(fields.size());
    return std::nullopt;
  }
  std::size_t i = 0;
  if (fields.size() == 6) {
    if (!set_field(fields[i++], second_field, e.seconds, error)) return std::nullopt;
  } else {
    e.seconds.set(0);
  }
  if (!set_field(fields[i++], minute_field, e.minutes, error)) return std::nullopt;
  if (!set_field(fields[i++], hour_field, e.hours, error)) return std::nullopt;
  e.day_of_month_star = fields[i].starts_with('*');
  if (!set_field(fields[i++], day_of_month_field, e.days_of_month, error)) return std::nullopt;
  if (!set_field(fields[i++], month_field, e.months, error)) return std::nullopt;
  e.day_of_week_star = fields[i].starts_with('*');
  if (!set_field(fields[i++], day_of_week_field, e.days_of_week, error)) return std::nullopt;
  return e;
}

std::optional<system_clock::time_point> next_fire(const cron_expr& e,
                                                  system_clock::time_point after_tp) {
  const std::time_t after = system_clock::to_time_t(floor<seconds>(after_tp));
  // Wall times are enumerated in order from the local time of `after`, or earlier by as much
  // as the clock went back in the last day (their first occurrence may still be ahead).
  const long back = std::max(0L, utc_offset(after - 93600) - utc_offset(after));
  const std::time_t wall_start = after + utc_offset(after) - back;
  const auto first_day = floor<days>(sys_seconds(seconds(wall_start)));
  constexpr int horizon_days = 366 * 5;  // covers Feb 29 and every weekday combination
  for (int n = 0; n < horizon_days; ++n) {
    const sys_days day = first_day + days(n);
    const year_month_day ymd(day);
    if (!e.months.test(static_cast<unsigned>(ymd.month())) || !day_matches(e, ymd)) continue;
    const std::time_t day_wall = system_clock::to_time_t(day);
    for (int h = 0; h < 24; ++h) {
      if (!e.hours.test(static_cast<std::size_t>(h))) continue;
      if (day_wall + (h + 1) * 3600 <= wall_start) continue;
      for (int m = 0; m < 60; ++m) {
        if (!e.minutes.test(static_cast<std::size_t>(m))) continue;
        const std::time_t minute_wall = day_wall + h * 3600 + m * 60;
        if (minute_wall + 60 <= wall_start) continue;
        for (int s = 0; s < 60; ++s) {
          if (!e.seconds.test(static_cast<std::size_t>(s))) continue;
          const std::time_t wall = minute_wall + s;
          if (wall < wall_start) continue;
          const std::time_t at = resolve_wall_time(wall);
          if (at > after) return system_clock::from_time_t(at);
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<seconds> longest_period(const cron_expr& e, system_clock::time_point from,
                                      int samples) {
  auto previous = next_fire(e, from);
  if (!previous) return std::nullopt;
  seconds longest{0};
  for (int i = 0; i < samples; ++i) {
    const auto next = next_fire(e, *previous);
    if (!next) break;
    longest = std::max(longest, duration_cast<seconds>(*next - *previous));
    previous = next;
  }
  if (longest == seconds(0)) return std::nullopt;
  return longest;
}

}  // namespace pgship::agent

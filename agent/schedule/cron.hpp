#pragma once
// Cron expressions and their next fire time, as pure functions. Five fields (minute hour
// day-of-month month day-of-week) or six with a leading seconds field; `*`, lists, ranges,
// steps, month and weekday names, @yearly/@monthly/@weekly/@daily/@hourly; the classic rule
// that a restricted day-of-month and a restricted day-of-week match when either does.
//
// Times are read in the process's time zone (TZ). A local time that does not exist (a DST
// gap) fires once at the first instant after the gap; a local time that happens twice (the
// repeated hour) fires once, at its first occurrence.

#include <bitset>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace pgship::agent {

struct cron_expr {
  std::bitset<60> seconds;
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;   // 1..31
  std::bitset<13> months;          // 1..12
  std::bitset<7> days_of_week;     // 0..6, Sunday = 0 (7 is accepted as Sunday)
  bool day_of_month_star = false;  // the field started with '*': the OR rule does not apply
  bool day_of_week_star = false;
  std::string text;  // as written, for messages
};

/// The instant at which the local wall time `wall` (seconds since the epoch, read as if UTC)
/// happens in the process's time zone: the first when it happens twice, the end of the gap
/// when it never does.
std::time_t local_wall_time(std::time_t wall);

/// Parses `text`; on failure returns nullopt and sets `error` to a message that names the
/// field and what is wrong with it ("day-of-week field '8': 8 is out of range 0-7").
std::optional<cron_expr> parse_cron(std::string_view text, std::string& error);

/// The first instant strictly after `after` at which `expr` fires, in the process's time
/// zone; nullopt when it never fires (e.g. `0 0 31 2 *`). Whole seconds.
std::optional<std::chrono::system_clock::time_point> next_fire(
    const cron_expr& expr, std::chrono::system_clock::time_point after);

/// The longest gap between consecutive fires over the next `samples` fires after `from`,
/// for "two schedule periods" style thresholds.
std::optional<std::chrono::seconds> longest_period(const cron_expr& expr,
                                                   std::chrono::system_clock::time_point from,
                                                   int samples = 8);

}  // namespace pgship::agent

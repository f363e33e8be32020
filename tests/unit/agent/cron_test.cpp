#include "schedule/cron.hpp"
#include <cstdlib>
#include <ctime>
#include <random>

#include <gtest/gtest.h>

#include <pgship/common/time_text.hpp>

#include "zone_guard.hpp"

namespace pgship::agent {
namespace {

using sys_clock = std::chrono::system_clock;

using test::zone_guard;

sys_clock::time_point at(const char* utc) {
  const auto t = parse_utc(utc);
  if (!t) throw std::invalid_argument(utc);
  return *t;
}

std::string next_text(const char* expr, const char* after) {
  std::string error;
  const auto e = parse_cron(expr, error);
  if (!e) return "parse error: " + error;
  const auto n = next_fire(*e, at(after));
  return n ? format_utc(*n) : std::string("never");
}

struct next_case {
  const char* zone;
  const char* expr;
  const char* after;     // UTC
  const char* expected;  // UTC, or "never"
};

class NextFire : public ::testing::TestWithParam<next_case> {};

TEST_P(NextFire, IsTheFirstMatchingInstantAfter) {
  const auto& c = GetParam();
  zone_guard zone(c.zone);
  EXPECT_EQ(next_text(c.expr, c.after), c.expected)
      << c.expr << " after " << c.after << " in " << c.zone;
}

INSTANTIATE_TEST_SUITE_P(
    Utc, NextFire,
    ::testing::Values(
        next_case{"UTC", "*/15 * * * *", "2026-01-01T00:07:00Z", "2026-01-01T00:15:00Z"},
        next_case{"UTC", "*/15 * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"},
        next_case{"UTC", "0 3 * * *", "2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z"},
        next_case{"UTC", "0 3 * * *", "2026-01-01T02:59:59Z", "2026-01-01T03:00:00Z"},
        next_case{"UTC", "0 0 1 1 *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
        next_case{"UTC", "59 23 31 12 *", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
        // Leap years and month ends.
        next_case{"UTC", "0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        next_case{"UTC", "0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
        next_case{"UTC", "0 0 31 * *", "2026-04-15T00:00:00Z", "2026-05-31T00:00:00Z"},
        next_case{"UTC", "0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
        next_case{"UTC", "0 0 30 2 *", "2026-01-01T00:00:00Z", "never"},
        next_case{"UTC", "0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z", "never"},
        // Weekdays, names, 7 = Sunday (2026-11-21 is a Saturday).
        next_case{"UTC", "0 12 * * mon-fri", "2026-11-21T13:00:00Z", "2026-11-23T12:00:00Z"},
        next_case{"UTC", "0 12 * * MON-FRI", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z"},
        next_case{"UTC", "0 0 * * 7", "2026-11-21T13:00:00Z", "2026-11-22T00:00:00Z"},
        next_case{"UTC", "0 0 * * sun", "2026-11-21T13:00:00Z", "2026-11-22T00:00:00Z"},
        next_case{"UTC", "0 0 * * 0", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
        next_case{"UTC", "0 0 1 jan,jul *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
        // Day-of-month OR day-of-week when both are restricted; AND when one is '*'.
        next_case{"UTC", "0 0 13 * fri", "2026-11-21T00:00:00Z", "2026-11-27T00:00:00Z"},
        next_case{"UTC", "0 0 13 * fri", "2026-11-27T00:00:00Z", "2026-12-04T00:00:00Z"},
        next_case{"UTC", "0 0 13 * fri", "2026-12-12T00:00:00Z", "2026-12-13T00:00:00Z"},
        next_case{"UTC", "0 0 29 2 mon", "2027-02-20T00:00:00Z", "2027-02-22T00:00:00Z"},
        // A field starting with '*' counts as unrestricted (Vixie cron): odd days AND Fridays.
        next_case{"UTC", "0 0 */2 * fri", "2026-11-21T00:00:00Z", "2026-11-27T00:00:00Z"},
        next_case{"UTC", "0 0 * 2 mon", "2027-02-20T00:00:00Z", "2027-02-22T00:00:00Z"},
        // Steps and ranges.
        next_case{"UTC", "5/15 * * * *", "2026-01-01T00:06:00Z", "2026-01-01T00:20:00Z"},
        next_case{"UTC", "5/15 * * * *", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"},
        next_case{"UTC", "10-20/5 * * * *", "2026-01-01T00:16:00Z", "2026-01-01T00:20:00Z"},
        next_case{"UTC", "10-20/5 * * * *", "2026-01-01T00:20:00Z", "2026-01-01T01:10:00Z"},
        next_case{"UTC", "0 9-17/4 * * *", "2026-01-01T10:00:00Z", "2026-01-01T13:00:00Z"},
        next_case{"UTC", "1,2,58 * * * *", "2026-01-01T00:02:30Z", "2026-01-01T00:58:00Z"},
        // Macros.
        next_case{"UTC", "@hourly", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
        next_case{"UTC", "@daily", "2026-01-01T00:00:01Z", "2026-01-02T00:00:00Z"},
        next_case{"UTC", "@midnight", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
        next_case{"UTC", "@weekly", "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"},
        next_case{"UTC", "@monthly", "2026-11-21T00:00:00Z", "2026-12-01T00:00:00Z"},
        next_case{"UTC", "@yearly", "2026-11-21T00:00:00Z", "2027-01-01T00:00:00Z"},
        next_case{"UTC", "@annually", "2026-11-21T00:00:00Z", "2027-01-01T00:00:00Z"},
        // Six fields: seconds first.
        next_case{"UTC", "*/2 * * * * *", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"},
        next_case{"UTC", "*/2 * * * * *", "2026-01-01T00:00:02Z", "2026-01-01T00:00:04Z"},
        next_case{"UTC", "30 * * * * *", "2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z"},
        next_case{"UTC", "0 0 0 * * *", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"}));

INSTANTIATE_TEST_SUITE_P(
    Berlin, NextFire,
    ::testing::Values(
        // Winter: CET = UTC+1.
        next_case{"Europe/Berlin", "0 3 * * *", "2026-01-10T12:00:00Z", "2026-01-11T02:00:00Z"},
        // Summer: CEST = UTC+2.
        next_case{"Europe/Berlin", "0 3 * * *", "2026-07-10T12:00:00Z", "2026-07-11T01:00:00Z"},
        // Spring forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist and fires
        // once at 03:00 CEST (01:00Z), then normally the next day.
        next_case{"Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
        next_case{"Europe/Berlin", "30 2 * * *", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
        next_case{"Europe/Berlin", "*/30 * * * *", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"},
        next_case{"Europe/Berlin", "*/30 * * * *", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"},
        next_case{"Europe/Berlin", "0 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
        // Fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires once.
        next_case{"Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
        next_case{"Europe/Berlin", "30 2 * * *", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
        next_case{"Europe/Berlin", "0 * * * *", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
        next_case{"Europe/Berlin", "0 * * * *", "2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z"},
        next_case{"Europe/Berlin", "0 0 * * *", "2026-03-28T12:00:00Z", "2026-03-28T23:00:00Z"},
        next_case{"Europe/Berlin", "0 0 * * *", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},
        next_case{"Europe/Berlin", "0 0 1 * *", "2026-03-15T00:00:00Z", "2026-03-31T22:00:00Z"}));

TEST(NextFireNewYork, DstGapAndRepeatedHour) {
  zone_guard zone("America/New_York");
  // 02:30 on 2026-03-08 does not exist: once, at 03:00 EDT (07:00Z).
  EXPECT_EQ(next_text("30 2 * * *", "2026-03-07T12:00:00Z"), "2026-03-08T07:00:00Z");
  EXPECT_EQ(next_text("30 2 * * *", "2026-03-08T07:00:00Z"), "2026-03-09T06:30:00Z");
  // 01:30 on 2026-11-01 happens at 05:30Z (EDT) and 06:30Z (EST): only the first.
  EXPECT_EQ(next_text("30 1 * * *", "2026-10-31T12:00:00Z"), "2026-11-01T05:30:00Z");
  EXPECT_EQ(next_text("30 1 * * *", "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00Z");
  EXPECT_EQ(next_text("*/20 1 * * *", "2026-11-01T05:40:00Z"), "2026-11-02T06:00:00Z");
  EXPECT_EQ(next_text("0 12 * * *", "2026-11-01T12:00:00Z"), "2026-11-01T17:00:00Z");
}

// Hundreds of cases against a brute-force scan, second by second, in UTC.
TEST(NextFireRandom, MatchesABruteForceScanInUtc) {
  zone_guard zone("UTC");
  std::mt19937 rng(20261121);
  const char* exprs[] = {"*/7 * * * *",    "13 */5 * * *",   "0 0 * * mon,thu", "30 12 1,15 * *",
                         "*/10 * * * * *", "45 23 * * 5-6",  "0 6-18/3 * * *",  "17 * 2 * *",
                         "0 0 1 */3 *",    "5,25 4 * * 1-5", "0 0 13 * fri",    "*/3 */2 * * * *"};
  int checked = 0;
  for (const char* text : exprs) {
    std::string error;
    const auto e = parse_cron(text, error);
    ASSERT_TRUE(e) << error;
    for (int i = 0; i < 25; ++i) {
      const auto after = at("2026-01-01T00:00:00Z") + std::chrono::seconds(rng() % (86400 * 200));
      const auto got = next_fire(*e, after);
      ASSERT_TRUE(got) << text;
      // Brute force: the first second (or minute, for five fields) after `after` whose UTC
      // fields match.
      const bool minutes_only = e->seconds.count() == 1 && e->seconds.test(0);
      const std::chrono::seconds step(minutes_only ? 60 : 1);
      auto t = minutes_only ? std::chrono::floor<std::chrono::minutes>(after) + step
                            : std::chrono::floor<std::chrono::seconds>(after) + step;
      for (int guard = 0; guard < 86400 * 120; ++guard, t += step) {
        const std::time_t tt = sys_clock::to_time_t(t);
        std::tm tm{};
        ::gmtime_r(&tt, &tm);
        const bool dom = e->days_of_month.test(static_cast<std::size_t>(tm.tm_mday));
        const bool dow = e->days_of_week.test(static_cast<std::size_t>(tm.tm_wday));
        const bool day = e->day_of_month_star || e->day_of_week_star ? dom && dow : dom || dow;
        if (e->seconds.test(static_cast<std::size_t>(tm.tm_sec)) &&
            e->minutes.test(static_cast<std::size_t>(tm.tm_min)) &&
            e->hours.test(static_cast<std::size_t>(tm.tm_hour)) &&
            e->months.test(static_cast<std::size_t>(tm.tm_mon + 1)) && day) {
          break;
        }
      }
      EXPECT_EQ(format_utc(*got), format_utc(t)) << text << " after " << format_utc(after);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 300);
}

TEST(ParseCron, RejectsMalformedExpressionsNamingTheField) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "expected 5 fields"},
      {"* * * *", "got 4"},
      {"* * * * * * *", "got 7"},
      {"60 * * * *", "minute field '60': 60 is out of range 0-59"},
      {"* 24 * * *", "hour field '24'"},
      {"* * 0 * *", "day-of-month field '0'"},
      {"* * 32 * *", "day-of-month field '32'"},
      {"* * * 13 *", "month field '13'"},
      {"* * * * 8", "day-of-week field '8': 8 is out of range 0-7"},
      {"*/0 * * * *", "step '0' must be a positive number"},
      {"*/x * * * *", "step 'x'"},
      {"5-1 * * * *", "range 5-1 goes backwards"},
      {"a * * * *", "'a' is not a number"},
      {"* * * foo *", "'foo' is not a number or a name"},
      {"1,,2 * * * *", "empty list item"},
      {"1, * * * *", "empty list item"},
      {"* * * * mon-", "day-of-week field 'mon-'"},
      {"-1 * * * *", "minute field '-1'"},
      {"60 * * * * *", "second field '60'"},
      {"@often", "is not one of @yearly"},
      {"* * * jan-feb-mar *", "month field"},
  };
  for (const auto& [text, message] : bad) {
    std::string error;
    EXPECT_FALSE(parse_cron(text, error)) << text;
    EXPECT_NE(error.find(message), std::string::npos) << text << " -> " << error;
  }
}

TEST(LongestPeriod, IsTheLongestGapBetweenFires) {
  zone_guard zone("UTC");
  std::string error;
  const auto daily = parse_cron("0 3 * * *", error);
  ASSERT_TRUE(daily);
  EXPECT_EQ(longest_period(*daily, at("2026-01-01T00:00:00Z")), std::chrono::hours(24));
  const auto weekdays = parse_cron("0 3 * * mon-fri", error);
  ASSERT_TRUE(weekdays);
  EXPECT_EQ(longest_period(*weekdays, at("2026-11-20T00:00:00Z")), std::chrono::hours(72));
  const auto never = parse_cron("0 0 30 2 *", error);
  ASSERT_TRUE(never);
  EXPECT_FALSE(longest_period(*never, at("2026-01-01T00:00:00Z")));
}

}  // namespace
}  // namespace pgship::agent

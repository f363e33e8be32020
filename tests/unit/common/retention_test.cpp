#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/retention.hpp>

namespace pgship {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;
using std::chrono::system_clock;
using std::chrono::year_month_day;

system_clock::time_point at(year_month_day date, std::chrono::seconds time_of_day = 3h) {
  return sys_days{date} + time_of_day;
}

// "2026-01-05" or "2026-01-05T09" when the hour is not 03:00; readable in failure output.
std::string label(year_month_day date, std::chrono::hours hour = 3h) {
  std::string out = std::to_string(static_cast<int>(date.year())) + "-";
  const auto two = [&](unsigned v) { out += (v < 10 ? "0" : "") + std::to_string(v); };
  two(static_cast<unsigned>(date.month()));
  out += '-';
  two(static_cast<unsigned>(date.day()));
  if (hour != 3h) {
    out += 'T';
    two(static_cast<unsigned>(hour.count()));
  }
  return out;
}

retention_item item(year_month_day date, std::chrono::hours hour = 3h) {
  return {label(date, hour), at(date, hour)};
}

// One backup at 03:00 every day from `first` to `last` inclusive.
std::vector<retention_item> daily(year_month_day first, year_month_day last) {
  std::vector<retention_item> out;
  for (sys_days d{first}; d <= sys_days{last}; d += std::chrono::days{1}) {
    out.push_back(item(year_month_day{d}));
  }
  return out;
}

// Every id of `backups` except `kept`, sorted: the expected answer when listing what stays
// is shorter than listing what goes.
std::vector<std::string> all_but(const std::vector<retention_item>& backups,
                                 const std::set<std::string>& kept) {
  std::vector<std::string> out;
  for (const auto& b : backups) {
    if (!kept.contains(b.id)) out.push_back(b.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct retention_case {
  const char* name;
  retention_policy policy;
  system_clock::time_point now;
  std::vector<retention_item> backups;
  std::vector<std::string> expired;
};

void check(const std::vector<retention_case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(select_expired(c.backups, c.policy, c.now), c.expired);
  }
}

TEST(retention_policy_test, enabled_when_any_count_is_set) {
  EXPECT_FALSE(retention_policy{}.enabled());
  EXPECT_TRUE(retention_policy{.keep_days = 7}.enabled());
  EXPECT_TRUE(retention_policy{.keep_weeks = 4}.enabled());
  EXPECT_TRUE(retention_policy{.keep_months = 12}.enabled());
  EXPECT_TRUE((retention_policy{.keep_days = 1, .keep_months = 1}.enabled()));
}

TEST(select_expired_test, basics) {
  const auto now = at(2026y / 2 / 1, 12h);
  const auto january = daily(2026y / 1 / 1, 2026y / 1 / 31);
  check({
      {"disabled policy deletes nothing", {}, now, january, {}},
      {"no backups", {.keep_days = 1}, now, {}, {}},
      {"a lone ancient backup is the newest", {.keep_days = 1}, now, {item(2001y / 1 / 1)}, {}},
      {"the newest survives even when no period covers it",
       {.keep_days = 3},
       now,
       {item(2026y / 1 / 1), item(2026y / 1 / 2), item(2026y / 1 / 3)},
       {"2026-01-01", "2026-01-02"}},
      {"a zero count keeps only the newest",
       {.keep_days = 0},
       now,
       {item(2026y / 1 / 30), item(2026y / 1 / 31), item(2026y / 2 / 1)},
       {"2026-01-30", "2026-01-31"}},
      {"keep_days=1 is today only",
       {.keep_days = 1},
       now,
       {item(2026y / 1 / 31), item(2026y / 2 / 1)},
       {"2026-01-31"}},
      {"keep_days=2 is today and yesterday",
       {.keep_days = 2},
       now,
       {item(2026y / 1 / 30), item(2026y / 1 / 31), item(2026y / 2 / 1)},
       {"2026-01-30"}},
      // Three calendar days, not the three newest days that have a backup.
      {"gaps count as days",
       {.keep_days = 3},
       now,
       {item(2026y / 1 / 28), item(2026y / 1 / 29), item(2026y / 1 / 30), item(2026y / 2 / 1)},
       {"2026-01-28", "2026-01-29"}},
  });
}

TEST(select_expired_test, keep_days_keeps_the_newest_of_each_day) {
  std::vector<retention_item> backups;
  for (unsigned d = 1; d <= 10; ++d) {
    for (const auto hour : {3h, 9h, 15h}) {
      backups.push_back(item(2026y / 1 / d, hour));
    }
  }
  // Today is the 10th: the last 7 days are the 4th to the 10th.
  check({{"three a day, ten days",
          {.keep_days = 7},
          at(2026y / 1 / 10, 23h),
          backups,
          all_but(backups, {"2026-01-04T15", "2026-01-05T15", "2026-01-06T15", "2026-01-07T15",
                            "2026-01-08T15", "2026-01-09T15", "2026-01-10T15"})}});
}

TEST(select_expired_test, days_are_utc_calendar_days) {
  // 23:59:59 and 00:00:00 are one second but a day apart.
  const std::vector<retention_item> backups = {
      {"late", at(2026y / 1 / 9, 23h + 59min + 59s)},
      {"early", at(2026y / 1 / 10, 0s)},
      {"earlier", at(2026y / 1 / 9, 0s)},
  };
  check({{"midnight splits days", {.keep_days = 2}, at(2026y / 1 / 10, 0s), backups, {"earlier"}}});
}

TEST(select_expired_test, weeks_are_iso_weeks_across_new_year) {
  // 2020 has an ISO week 53: Mon 2020-12-28 to Sun 2021-01-03. 2021-W01 starts Mon 01-04.
  const std::vector<retention_item> around_2021 = {
      item(2020y / 12 / 21),  // Mon, 2020-W52
      item(2020y / 12 / 27),  // Sun, 2020-W52
      item(2020y / 12 / 28),  // Mon, 2020-W53
      item(2020y / 12 / 31),  // Thu, 2020-W53
      item(2021y / 1 / 3),    // Sun, 2020-W53
      item(2021y / 1 / 4),    // Mon, 2021-W01
      item(2021y / 1 / 5),    // Tue, 2021-W01
  };
  const auto wednesday = at(2021y / 1 / 6, 12h);
  // Mon 2024-12-30 already belongs to 2025-W01; Sun 2024-12-29 is 2024-W52.
  const std::vector<retention_item> around_2025 = {item(2024y / 12 / 22), item(2024y / 12 / 29),
                                                   item(2024y / 12 / 30), item(2025y / 1 / 1)};
  check({
      {"this week only",
       {.keep_weeks = 1},
       wednesday,
       around_2021,
       all_but(around_2021, {"2021-01-05"})},
      {"week 53 spans the new year",
       {.keep_weeks = 2},
       wednesday,
       around_2021,
       all_but(around_2021, {"2021-01-05", "2021-01-03"})},
      {"and week 52 before it",
       {.keep_weeks = 3},
       wednesday,
       around_2021,
       all_but(around_2021, {"2021-01-05", "2021-01-03", "2020-12-27"})},
      {"on a Monday the previous week is one back",
       {.keep_weeks = 2},
       at(2021y / 1 / 4, 23h),
       around_2021,
       all_but(around_2021, {"2021-01-05" /* future */, "2021-01-04", "2021-01-03"})},
      {"week 1 starting in December",
       {.keep_weeks = 1},
       at(2025y / 1 / 2),
       around_2025,
       {"2024-12-22", "2024-12-29", "2024-12-30"}},
      {"week 52 then week 1",
       {.keep_weeks = 2},
       at(2025y / 1 / 2),
       around_2025,
       {"2024-12-22", "2024-12-30"}},
  });
}

TEST(select_expired_test, keep_months_keeps_the_newest_of_each_month) {
  const std::vector<retention_item> spring = {
      item(2025y / 12 / 31), item(2026y / 1 / 1), item(2026y / 1 / 31), item(2026y / 2 / 1),
      item(2026y / 2 / 28),  item(2026y / 3 / 1), item(2026y / 3 / 10)};
  const std::vector<retention_item> new_year = {item(2025y / 11 / 30), item(2025y / 12 / 1),
                                                item(2025y / 12 / 31), item(2026y / 1 / 2)};
  check({
      {"three months",
       {.keep_months = 3},
       at(2026y / 3 / 15),
       spring,
       {"2025-12-31", "2026-01-01", "2026-02-01", "2026-03-01"}},
      {"four months reach last year",
       {.keep_months = 4},
       at(2026y / 3 / 15),
       spring,
       {"2026-01-01", "2026-02-01", "2026-03-01"}},
      {"across new year",
       {.keep_months = 2},
       at(2026y / 1 / 15),
       new_year,
       {"2025-11-30", "2025-12-01"}},
      {"a year of months", {.keep_months = 12}, at(2026y / 1 / 15), new_year, {"2025-12-01"}},
  });
}

TEST(select_expired_test, combined_tiers_keep_the_union) {
  const auto backups = daily(2026y / 1 / 20, 2026y / 3 / 11);
  const auto now = at(2026y / 3 / 11, 12h);  // a Wednesday
  check({
      {"days, weeks and months",
       {.keep_days = 2, .keep_weeks = 2, .keep_months = 2},
       now,
       backups,
       // days: 11th, 10th; weeks: this one (11th), last one (Sun 8th); months: Mar (11th),
       // Feb (28th).
       all_but(backups, {"2026-03-11", "2026-03-10", "2026-03-08", "2026-02-28"})},
      {"days and months",
       {.keep_days = 7, .keep_months = 3},
       now,
       backups,
       all_but(backups, {"2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09",
                         "2026-03-10", "2026-03-11", "2026-02-28", "2026-01-31"})},
      {"weeks only",
       {.keep_weeks = 4},
       now,
       backups,
       all_but(backups, {"2026-03-11", "2026-03-08", "2026-03-01", "2026-02-22"})},
  });
}

TEST(select_expired_test, future_dated_backups_are_kept_and_do_not_displace_others) {
  const auto now = at(2026y / 1 / 10, 12h);
  const std::vector<retention_item> backups = {
      item(2026y / 1 / 9),       item(2026y / 1 / 10, 3h), item(2026y / 1 / 10, 9h),
      item(2026y / 1 / 10, 18h),  // later today: the clock that named it is ahead
      item(2027y / 1 / 1),
  };
  check({
      {"one day", {.keep_days = 1}, now, backups, {"2026-01-09", "2026-01-10"}},
      {"only future ones beside an old one",
       {.keep_days = 1},
       now,
       {item(2025y / 1 / 1), item(2025y / 6 / 1), item(2026y / 1 / 11)},
       {"2025-01-01"}},
      {"a backup taken exactly now is not in the future",
       {.keep_days = 1},
       at(2026y / 1 / 10, 9h),
       backups,
       {"2026-01-09", "2026-01-10"}},
  });
}

TEST(select_expired_test, ties_on_time_keep_the_greater_id) {
  const auto t = at(2026y / 1 / 1);
  check({{"same second",
          {.keep_days = 1},
          at(2026y / 1 / 1, 12h),
          {{"b", t}, {"a", t}, {"c", t - 1h}},
          {"a", "c"}}});
}

TEST(select_expired_test, input_order_does_not_matter_and_output_is_sorted) {
  auto backups = daily(2025y / 11 / 1, 2026y / 2 / 1);
  const retention_policy policy{.keep_days = 5, .keep_weeks = 3, .keep_months = 2};
  const auto now = at(2026y / 2 / 1, 20h);
  const auto expected = select_expired(backups, policy, now);
  ASSERT_TRUE(std::is_sorted(expected.begin(), expected.end()));
  // 93 backups; kept: Jan 28 - Feb 1 (days), Jan 25 and 18 (weeks; Feb 1 is a Sunday),
  // Jan 31 (month, already kept).
  EXPECT_EQ(expected.size(), 93u - 7u);
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(backups.begin(), backups.end(), rng);
    EXPECT_EQ(select_expired(backups, policy, now), expected);
  }
}

}  // namespace
}  // namespace pgship

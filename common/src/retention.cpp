#include <algorithm>

#include <pgship/common/retention.hpp>

namespace pgship {
namespace {

using std::chrono::sys_days;

// Periods are numbered so that "within the last N" is `period(now) - period(taken) < N`.
using period_fn = long long (*)(sys_days);

long long day_period(sys_days day) {
  return day.time_since_epoch().count();
}

// ISO weeks run Monday to Sunday; numbering by the Monday keeps a week that straddles New
// Year (ISO week 1, 52 or 53) in one period.
long long week_period(sys_days day) {
  const std::chrono::weekday wd{day};
  const sys_days monday = day - std::chrono::days{wd.iso_encoding() - 1};
  // 1970-01-05 was a Monday, so this divides exactly, before 1970 too.
  constexpr long long first_monday = 4;
  return (monday.time_since_epoch().count() - first_monday) / 7;
}

long long month_period(sys_days day) {
  const std::chrono::year_month_day date{day};
  return static_cast<long long>(static_cast<int>(date.year())) * 12 +
         static_cast<unsigned>(date.month()) - 1;
}

sys_days day_of(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::days>(t);
}

// Adds `rule` to the newest backup of each of the last `count` periods. `newest_first` is
// sorted by time, so periods never increase along it and the scan can stop at the first one
// too old.
void keep_newest_per_period(const std::vector<const retention_item*>& newest_first,
                            std::optional<int> count, period_fn period, sys_days today,
                            retention_rule rule, std::vector<retention_verdict>& verdicts) {
  if (!count || *count <= 0) return;
  const long long current = period(today);
  std::optional<long long> previous;
  for (std::size_t i = 0; i < newest_first.size(); ++i) {
    const long long p = period(day_of(newest_first[i]->taken));
    if (current - p >= *count) break;
    if (p != previous) verdicts[i].kept_by.push_back(rule);
    previous = p;
  }
}

}  // namespace

bool retention_policy::enabled() const {
  return keep_days.has_value() || keep_weeks.has_value() || keep_months.has_value();
}

std::string_view to_string(retention_rule rule) {
  switch (rule) {
    case retention_rule::newest:
      return "newest";
    case retention_rule::day:
      return "day";
    case retention_rule::week:
      return "week";
    case retention_rule::month:
      return "month";
    case retention_rule::future:
      return "dated in the future";
  }
  return "?";
}

std::vector<retention_verdict> explain_retention(const std::vector<retention_item>& backups,
                                                 const retention_policy& policy,
                                                 std::chrono::system_clock::time_point now) {
  // A future date means a skewed clock somewhere: keep those out of the buckets, so they
  // can neither be deleted nor push a real backup out of its day, week or month.
  std::vector<const retention_item*> past;
  std::vector<const retention_item*> future;
  for (const auto& b : backups)
    (b.taken <= now ? past : future).push_back(&b);
  const auto newer = [](const retention_item* a, const retention_item* b) {
    // Ties on time are broken by id so the result does not depend on the input order.
    return a->taken != b->taken ? a->taken > b->taken : a->id > b->id;
  };
  std::sort(past.begin(), past.end(), newer);
  std::sort(future.begin(), future.end(), newer);

  std::vector<retention_verdict> verdicts;
  for (const auto* b : past)
    verdicts.push_back({b->id, {}});
  if (policy.enabled()) {
    if (!verdicts.empty()) verdicts[0].kept_by.push_back(retention_rule::newest);
    const sys_days today = day_of(now);
    keep_newest_per_period(past, policy.keep_days, day_period, today, retention_rule::day,
                           verdicts);
    keep_newest_per_period(past, policy.keep_weeks, week_period, today, retention_rule::week,
                           verdicts);
    keep_newest_per_period(past, policy.keep_months, month_period, today, retention_rule::month,
                           verdicts);
  }
  std::vector<retention_verdict> all;
  for (const auto* b : future)
    all.push_back({b->id, {retention_rule::future}});
  all.insert(all.end(), verdicts.begin(), verdicts.end());
  return all;
}

std::vector<std::string> select_expired(const std::vector<retention_item>& backups,
                                        const retention_policy& policy,
                                        std::chrono::system_clock::time_point now) {
  if (!policy.enabled()) return {};
  std::vector<std::string> expired;
  for (const auto& v : explain_retention(backups, policy, now)) {
    if (v.kept_by.empty()) expired.push_back(v.id);
  }
  std::sort(expired.begin(), expired.end());
  return expired;
}

}  // namespace pgship

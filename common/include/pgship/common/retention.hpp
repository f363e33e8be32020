#pragma once
// Grandfather-father-son retention, as a pure function: which backups of one client and
// database to delete, given their timestamps, the policy and the time now.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgship {

struct retention_policy {
  std::optional<int> keep_days;    // newest backup of each of the last N calendar days (UTC)
  std::optional<int> keep_weeks;   // newest backup of each of the last N ISO weeks
  std::optional<int> keep_months;  // newest backup of each of the last N calendar months

  /// True when at least one of the three is set (else retention is off).
  bool enabled() const;
};

struct retention_item {
  std::string id;
  std::chrono::system_clock::time_point taken;
};

/// Why a backup is kept (DESIGN: "retention --dry-run ... by which rule").
enum class retention_rule { newest, day, week, month, future };
std::string_view to_string(retention_rule rule);

/// One backup's verdict: the rules that keep it; none means it goes.
struct retention_verdict {
  std::string id;
  std::vector<retention_rule> kept_by;
};

/// Every backup's verdict under `policy`, newest first (ties by id, greater first). With no rule
/// enabled, nothing is kept by a rule: the caller decides what "off" means.
std::vector<retention_verdict> explain_retention(const std::vector<retention_item>& backups,
                                                 const retention_policy& policy,
                                                 std::chrono::system_clock::time_point now);

/// The ids to delete. Rules: off when the policy is not enabled; the newest backup is never
/// deleted; a backup is kept when it is the newest in its day (within keep_days days of
/// `now`'s day, counting today as the first), its ISO week (within keep_weeks weeks) or its
/// month (within keep_months months); everything else is deleted. Backups dated in the future
/// are kept. Input order does not matter; output is sorted by id.
std::vector<std::string> select_expired(const std::vector<retention_item>& backups,
                                        const retention_policy& policy,
                                        std::chrono::system_clock::time_point now);

}  // namespace pgship

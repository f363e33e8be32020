#include "pipeline/backup_at.hpp"
#include <charconv>
#include <map>
#include <set>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/time_text.hpp>

#include "schedule/cron.hpp"

namespace pgship::agent {
namespace {

using clock_point = std::chrono::system_clock::time_point;

std::optional<int> number(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "YYYY-MM-DD HH:MM[:SS]" as a wall time, in seconds since the epoch as if it were UTC.
std::optional<std::time_t> wall_time(std::string_view text) {
  if (text.size() != 16 && text.size() != 19) return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T') || text[13] != ':' ||
      (text.size() == 19 && text[16] != ':'))
    return std::nullopt;
  const auto y = number(text.substr(0, 4));
  const auto mo = number(text.substr(5, 2));
  const auto d = number(text.substr(8, 2));
  const auto h = number(text.substr(11, 2));
  const auto mi = number(text.substr(14, 2));
  const auto s = text.size() == 19 ? number(text.substr(17, 2)) : std::optional<int>(0);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*y),
                                         std::chrono::month(static_cast<unsigned>(*mo)),
                                         std::chrono::day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  const auto days = std::chrono::sys_days(date).time_since_epoch().count();
  return static_cast<std::time_t>(days) * 86400 + *h * 3600 + *mi * 60 + *s;
}

std::optional<clock_point> taken_of(const remote_backup& b) {
  return parse_utc(b.taken);
}

}  // namespace

std::optional<clock_point> parse_backup_time(std::string_view text, std::string& why) {
  if (const auto at = parse_rfc3339(text)) {
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(*at);
  }
  if (const auto wall = wall_time(text)) {
    return std::chrono::system_clock::from_time_t(local_wall_time(*wall));
  }
  why = "--at \"" + std::string(text) +
        "\" is not an RFC 3339 time (2026-03-01T12:00:00Z, 2026-03-01 13:00:00+01:00) nor "
        "YYYY-MM-DD HH:MM[:SS] in TZ";
  return std::nullopt;
}

std::vector<std::pair<std::string, std::optional<remote_backup>>> dumps_at(
    const std::vector<remote_backup>& backups, clock_point at) {
  std::map<std::string, std::optional<std::pair<clock_point, const remote_backup*>>> best;
  for (const auto& b : backups) {
    if (b.kind != backup_kind::dump) continue;
    auto& chosen = best[b.database];
    const auto taken = taken_of(b);
    if (!taken || *taken > at) continue;
    // Ties on time (never within one database: names are stamped to the second) by id.
    if (!chosen || *taken > chosen->first || (*taken == chosen->first && b.id > chosen->second->id))
      chosen = std::make_pair(*taken, &b);
  }
  std::vector<std::pair<std::string, std::optional<remote_backup>>> out;
  for (const auto& [database, chosen] : best) {
    out.emplace_back(database,
                     chosen ? std::optional<remote_backup>(*chosen->second) : std::nullopt);
  }
  return out;
}

std::optional<remote_backup> dump_at(const std::vector<remote_backup>& backups,
                                     const std::string& database, clock_point at,
                                     std::string& why) {
  std::set<std::string> databases;
  for (const auto& b : backups)
    if (b.kind == backup_kind::dump) databases.insert(b.database);
  std::string name = database;
  if (name.empty()) {
    if (databases.size() > 1) {
      std::string names;
      for (const auto& n : databases)
        names += (names.empty() ? "" : ", ") + n;
      why = "--at needs --database: the receiver holds dumps of " +
            std::to_string(databases.size()) + " databases for this token (" + names + ")";
      return std::nullopt;
    }
    if (!databases.empty()) name = *databases.begin();
  }
  if (!databases.contains(name)) {
    why = "the receiver has no dump" + (name.empty() ? std::string() : " of database " + name);
    return std::nullopt;
  }
  for (auto& [db, chosen] : dumps_at(backups, at)) {
    if (db != name) continue;
    if (chosen) return chosen;
  }
  // Before the oldest: name it, so the operator sees how far back the backups go.
  const remote_backup* oldest = nullptr;
  for (const auto& b : backups) {
    if (b.kind == backup_kind::dump && b.database == name && (!oldest || b.taken < oldest->taken))
      oldest = &b;
  }
  why = "no dump of database " + name + " was taken at or before " + format_utc(at) +
        ": the oldest is " + oldest->id + ", taken " + oldest->taken;
  return std::nullopt;
}

}  // namespace pgship::agent

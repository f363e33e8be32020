#pragma once
// POST /api/backup/reports: what an agent tells the receiver beside its backups, so that the
// status page and GET /api/status show it (README "Status page"). Two kinds: a drill's result
// (logical or PITR), and the agent's schedule. The JSON both programs speak.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace pgship::wire {

inline constexpr std::string_view reports_path = "/api/backup/reports";
/// A report's body is small: larger is refused before it is read.
inline constexpr std::size_t report_max_bytes = 16 * 1024;
/// The longest text field (an error message, a schedule) a report may carry.
inline constexpr std::size_t report_text_max = 1024;

struct drill_report {
  std::string database;  // "pgdata" for a PITR drill: the cluster
  std::string backup;
  std::string drill;   // logical or pitr
  std::string result;  // ok or failed
  std::string run_id;
  std::string finished;  // UTC, RFC 3339
  double recovery_seconds = 0;
  std::uint64_t rows = 0;
  std::uint64_t tables = 0;
  std::uint64_t mismatches = 0;
  std::string recovered_to;  // PITR: where PostgreSQL said recovery stopped
  std::string error;         // failed: why
};

struct schedule_report {
  std::string host;
  std::string version;
  std::string schedule;  // SCHEDULE
  std::string drill_schedule;
  std::string pitr_drill_schedule;
  std::string time_zone;
  /// The longest gap between two of SCHEDULE's fires, in seconds: a backup older than that
  /// (with a margin) is late. The agent reads its cron; the receiver need not.
  std::uint64_t interval_seconds = 0;
  std::vector<std::string> databases;
  std::string reported;  // UTC, RFC 3339
};

struct report {
  std::optional<drill_report> drill;
  std::optional<schedule_report> schedule;
};

boost::json::object to_json(const drill_report& r);
boost::json::object to_json(const schedule_report& r);
std::string encode_report(const report& r);
/// nullopt (with `why`) for anything but exactly one well-formed report: a kind that is
/// `drill` or `schedule`, names that are backup-name safe, a result of ok or failed.
std::optional<report> decode_report(std::string_view text, std::string& why);

}  // namespace pgship::wire

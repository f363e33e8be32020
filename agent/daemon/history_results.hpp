#pragma once
// What the run history says about each database's backups and drills and about the globals:
// read by the daemon at start-up and whenever a one-shot run changed the file, and by a
// one-shot run for its METRICS_TEXTFILE, so both see the same last results.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "daemon/agent_metrics.hpp"

namespace pgship::agent {

struct history_result {
  enum class subject { backup, drill, globals, basebackup, pitr_drill };
  subject of = subject::backup;
  std::string database;              // empty for the globals and base backups
  std::uint64_t size = 0;            // a base backup's stored bytes
  double seconds = 0;                // a PITR drill's recovery seconds
  std::int64_t recovered_to_ms = 0;  // and the moment it recovered to
  bool ok = false;
  std::string error;
  std::optional<std::chrono::system_clock::time_point> at;  // when the run finished
};

/// The finished results in `runs` (newest first, as run_history::newest gives them), oldest
/// first so that a fold ends on the newest. Archives and cancelled or skipped entries are left
/// out; the globals entry is never a database's result, whatever the database is called.
std::vector<history_result> history_results(const std::vector<boost::json::object>& runs);

/// Status and last success of the backups and drills of `databases`, and of the globals.
void apply_history_results(const std::vector<history_result>& results,
                           const std::vector<std::string>& databases, agent_metrics& metrics);

}  // namespace pgship::agent

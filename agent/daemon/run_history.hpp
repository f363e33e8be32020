#pragma once
// Run history for GET /api/v1/runs: the newest runs as JSON objects, the active one included
// with result "running", persisted to BACKUP_DIR/runs.jsonl (bounded) and reloaded on start,
// when a run that was still "running" is recorded as "interrupted". Thread-safe.

#include <cstddef>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace pgship::agent {

class run_history {
 public:
  run_history(std::filesystem::path file, std::size_t limit = 500);

  /// Loads the file (missing: empty); returns how many runs were marked interrupted.
  int load();
  /// Adds or replaces the run with the same run_id, newest first, and persists.
  void put(boost::json::object run);

  std::vector<boost::json::object> newest(std::size_t limit) const;
  std::optional<boost::json::object> find(const std::string& run_id) const;

 private:
  void save_locked() const;

  std::filesystem::path file_;
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::deque<boost::json::object> runs_;  // newest first
};

}  // namespace pgship::agent

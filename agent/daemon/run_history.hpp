#pragma once
// Run history for GET /api/v1/runs: the newest runs as JSON objects, the active one included
// with result "running", persisted to BACKUP_DIR/runs.jsonl (bounded) and reloaded on start,
// when a run that was still "running" is recorded as "interrupted". One-shot commands
// (`backup`, `drill` from a systemd timer or by hand) add their finished runs to the same
// file, under BACKUP_DIR/runs.jsonl.lock; a daemon beside them reads the file again when it
// changed. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace pgship::agent {

/// The history's file name in BACKUP_DIR.
inline constexpr const char* run_history_file = "runs.jsonl";

class run_history {
 public:
  run_history(std::filesystem::path file, std::size_t limit = 500);

  /// Loads the file (missing: empty); returns how many runs were marked interrupted.
  int load();
  /// Adds or replaces the run with the same run_id, newest first, and persists (what another
  /// process added to the file meanwhile is kept).
  void put(boost::json::object run);
  /// Reads the file again if another process changed it since this one last read or wrote it.
  void reload_if_changed();
  /// Counts the times the runs were read from the file: a change means runs this process did
  /// not put may have arrived.
  std::uint64_t generation() const;

  std::vector<boost::json::object> newest(std::size_t limit) const;
  std::optional<boost::json::object> find(const std::string& run_id) const;

 private:
  /// Identity and state of the file as last read or written (inode, size, mtime).
  struct file_stamp {
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = -1;
    bool operator==(const file_stamp&) const = default;
  };
  file_stamp stamp() const;
  /// Reads the file into runs_; `mark_interrupted`: runs still "running" become "interrupted".
  int read_locked(bool mark_interrupted);
  void reload_locked();
  void save_locked();

  std::filesystem::path file_;
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::deque<boost::json::object> runs_;  // newest first
  file_stamp known_;
  std::uint64_t generation_ = 0;
};

}  // namespace pgship::agent

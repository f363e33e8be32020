#pragma once
// What one backup run did, for the caller (exit code, the daemon's /api/v1/runs and metrics)
// and for the log's one summary line: per database and per stage, when, how long, how many
// bytes, and the first failure with its stable code.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/upload.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct stage_record {
  std::string name;  // preflight, dump, verify, upload, rotate
  std::chrono::system_clock::time_point started;
  double seconds = 0;
  std::uint64_t bytes = 0;
  bool ok = true;
};

struct database_run {
  std::string database;
  std::string backup;  // file name, once dumped
  std::uint64_t database_size = 0;
  std::uint64_t size = 0;
  std::string sha256;
  std::string server_version;
  std::string pg_dump_version;
  bool uploaded = false;
  upload_output upload;
  int local_backups = 0;
  std::vector<std::string> rotated;
  std::vector<std::string> shipped_late;  // earlier backups whose upload this run completed
  std::vector<stage_record> stages;
  stage_error error;
};

struct run_record {
  std::string run_id;
  std::string trigger;  // manual, schedule, api, startup
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point finished;
  std::vector<database_run> databases;
  stage_error error;  // the first failure (also set when the run aborted before any database)

  std::string log_file;  // this run's own log (RUN_LOG_DIR/<run_id>.log), when it has one

  bool ok() const { return !error.failed(); }
  /// Stopped on request (SIGTERM, shutdown): not a failed backup.
  bool cancelled() const;
  double seconds() const;
};

/// "ok", "failed", "cancelled" (stopped on request) or "skipped" (another run held
/// BACKUP_DIR): the result a run or a database's part of it reports.
std::string_view result_name(const stage_error& error);
/// ok or failed: a result that says something about the database's backups (cancelled and
/// skipped runs leave status, health and last success as they were).
bool counts_as_backup_result(const stage_error& error);

/// "20261121T030000Z-3f9a1c": sortable by time, unique enough for one agent.
std::string new_run_id(std::chrono::system_clock::time_point now);
/// Whether `text` has the form new_run_id() gives.
bool is_run_id(std::string_view text);

std::string to_json(const run_record& run);

/// The one summary line (info on success, error on failure) with run_id, result and code.
void log_summary(const run_record& run);

}  // namespace pgship::agent

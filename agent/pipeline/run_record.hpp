#pragma once
// What one backup run did, for the caller (exit code, the daemon's /api/v1/runs and metrics)
// and for the log's one summary line: per database and per stage, when, how long, how many
// bytes, and the first failure with its stable code.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pgship/common/log.hpp>

#include "net/upload_job.hpp"
#include "pipeline/progress_meter.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct stage_record {
  std::string name;  // preflight, dump, verify, upload, rotate
  std::chrono::system_clock::time_point started;
  double seconds = 0;
  std::uint64_t bytes = 0;
  bool ok = true;
};

/// Times one stage into a list of stage records.
class stage_clock {
 public:
  stage_clock(std::vector<stage_record>& stages, std::string name)
      : stages_(stages),
        name_(std::move(name)),
        wall_(std::chrono::system_clock::now()),
        start_(std::chrono::steady_clock::now()) {}

  void done(std::uint64_t bytes, bool ok) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    stages_.push_back({name_, wall_, secs, bytes, ok});
  }

 private:
  std::vector<stage_record>& stages_;
  std::string name_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point start_;
};

/// What a restore drill found, beside its stages.
struct drill_outcome {
  std::string scratch_database;
  /// The manifest's: exact or estimate; empty when there were no counts to compare.
  std::string row_counts;
  std::string note;        // "no counts to compare: ..." and the like
  std::size_t tables = 0;  // tables in the restored database
  std::uint64_t rows = 0;  // their rows
  std::vector<std::string> mismatches;
  /// Download + restore wall time: what recovering this database took.
  double recovery_seconds = 0;
  bool kept = false;  // DRILL_KEEP
  // A PITR drill's, beside the counts: the target as asked, where PostgreSQL said recovery
  // stopped (its own line) and that moment (unix ms, 0 when it named none), the indexes and
  // tables amcheck checked.
  std::string target;
  std::string recovered_to;
  std::int64_t recovered_to_ms = 0;
  std::size_t indexes_checked = 0;
};

struct database_run {
  std::string database;  // or the name of an ARCHIVE_DIRS directory, when `archive`
  bool archive = false;
  bool globals = false;  // the cluster's roles and tablespaces (GLOBALS); database "globals"
  std::string backup;    // file name, once dumped
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
  std::optional<drill_outcome> drill;  // set in drills
  stage_error error;
  bool stepped = false;  // its step ran (or was cancelled): `error` is its own result
};

struct run_record {
  std::string kind = "backup";  // or "drill"
  std::string run_id;
  std::string trigger;  // manual, schedule, api, startup
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point finished;
  std::vector<database_run> databases;
  stage_error error;  // the first failure (also set when the run aborted before any database)

  std::string log_file;  // this run's own log (RUN_LOG_DIR/<run_id>.log), when it has one
  /// Stages that made no progress for a minute (progress_watch); each was logged then.
  std::vector<stall_note> stalls;

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

/// Logs a database's failure (a warning when cancelled) and makes the first one the run's.
/// `job` names what failed ("backup", "drill").
void note_database_error(run_record& run, const database_run& d, const log::context& lg,
                         std::string_view job);

/// Ends the run: `error` becomes the run's unless one came first, a database the run never got
/// to carries the run's (a run refused before its turn never reads "ok"; one that succeeded
/// beside another's failure keeps its "ok"), the finish time is taken and the summary logged.
/// Returns the record, moved out.
run_record finish_run(run_record& run, stage_error error);

}  // namespace pgship::agent

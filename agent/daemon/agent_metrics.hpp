#pragma once
// The agent's Prometheus metrics (names are part of the DESIGN.md contract), fed from run
// records and the scheduler. Labels stay bounded: databases, stages, results. Thread-safe.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "daemon/legacy_metrics.hpp"
#include "pipeline/run_record.hpp"
#include "repository/local_listing.hpp"

namespace pgship::agent {

/// The WAL stream's numbers at a scrape (WAL_STREAM=on only).
struct wal_metric_values {
  bool up = false;
  double server_lsn = 0, received_lsn = 0, durable_lsn = 0;  // positions as byte counts
  double lag_bytes = 0, lag_seconds = 0;
  std::uint64_t segments_shipped = 0;         // since the stream's ship queue started
  std::optional<double> slot_retained_bytes;  // slot_watch's last reading
};

class agent_metrics {
 public:
  /// `legacy`: also the old tool's mt5_backup_* names (LEGACY_METRICS).
  explicit agent_metrics(const std::vector<std::string>& databases, bool legacy = false);
  ~agent_metrics();

  /// A backup run or a restore drill started (pgship_run_in_progress).
  void run_started();
  void run_finished(const run_record& run);
  void skipped();
  /// A webhook delivery's outcome (pgship_webhook_deliveries_total{result}).
  void webhook_delivery(std::string_view result);
  void next_run(std::chrono::system_clock::time_point at);
  /// A success of `database` known from history or BACKUP_DIR: the last success timestamp and
  /// age move to it unless a later one is known already.
  void last_success(const std::string& database, std::chrono::system_clock::time_point at);

  /// What BACKUP_DIR holds of `database` (its manifests): pgship_backup_unshipped, the newest
  /// local backup, and the newest shipped one as a success (UPLOAD=on: shipped means success).
  void local_backups_known(const std::string& database, const local_backup_summary& local);

  /// The last backup result of `database` known from history (start-up, a one-shot run beside
  /// the daemon): pgship_backup_last_status.
  void backup_known(const std::string& database, bool ok);

  /// The last GLOBALS backup (roles, tablespaces) known from a run or history:
  /// pgship_globals_last_status and, when it succeeded, its timestamp. Series of their own, so
  /// a database called globals never reads as the globals' result.
  void globals_known(bool ok, std::optional<std::chrono::system_clock::time_point> at);

  /// A base backup that completed at `at` (its WAL durable on the receiver), `size` stored
  /// bytes when known: pgship_basebackup_last_success_timestamp_seconds (never moved back) and
  /// pgship_basebackup_last_size_bytes.
  void basebackup_known(std::chrono::system_clock::time_point at,
                        std::optional<std::uint64_t> size);

  /// A PITR drill that ended (a run or history): pgship_pitr_drill_last_status, and when it
  /// succeeded its end, its seconds and the moment it recovered to (0: PostgreSQL named none).
  void pitr_drill_known(bool ok, std::chrono::system_clock::time_point at, double seconds,
                        std::int64_t recovered_to_ms);
  /// PITR_DRILL_SCHEDULE is set: the last-success series exists from the start (0 = never), so
  /// PitrDrillTooOld fires for drills that never succeeded.
  void pitr_drills_scheduled();

  /// The last drill of `database` known from history (start-up): status and last success.
  void drill_known(const std::string& database, bool ok,
                   std::optional<std::chrono::system_clock::time_point> last_success);

  /// Bytes of the local backups (for mt5_backup_repo_size_bytes).
  void repo_size(std::uint64_t bytes);

  /// The WAL stream's pgship_wal_* series, live values: they exist from the first call on (so
  /// only with WAL_STREAM=on) and are scrape-time only, as the ages are.
  void wal_known(const wal_metric_values& values);

  /// The exposition text for /metrics, with the age gauges computed for `now`.
  std::string render(std::chrono::system_clock::time_point now);
  /// Writes the exposition text to `path` atomically (METRICS_TEXTFILE); a failure is logged.
  /// Without pgship_backup_last_success_age_seconds: an age written once would read as fresh
  /// for as long as the file stays unchanged; alerts take time() - the timestamp instead.
  void write_textfile(const std::filesystem::path& path);

 private:
  void drill_finished(const run_record& run);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Registry> age_registry_;  // scrape-time only: not in the textfile
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Gauge>& last_status_;
  prometheus::Family<prometheus::Gauge>& last_success_;
  prometheus::Family<prometheus::Gauge>& last_size_;
  prometheus::Family<prometheus::Histogram>& stage_duration_;
  prometheus::Family<prometheus::Gauge>& database_size_;
  prometheus::Counter& upload_bytes_;
  prometheus::Counter& upload_retries_;
  prometheus::Counter& upload_resumes_;
  prometheus::Family<prometheus::Gauge>& local_backups_;
  prometheus::Gauge& next_run_;
  prometheus::Gauge& in_progress_;
  prometheus::Family<prometheus::Gauge>& success_age_;
  prometheus::Counter& skipped_;
  prometheus::Family<prometheus::Counter>& webhook_deliveries_;
  prometheus::Family<prometheus::Counter>& drill_runs_;
  prometheus::Family<prometheus::Gauge>& drill_last_status_;
  prometheus::Family<prometheus::Gauge>& drill_last_success_;
  prometheus::Family<prometheus::Gauge>& drill_duration_;
  prometheus::Family<prometheus::Gauge>& archive_size_;
  prometheus::Family<prometheus::Gauge>& drill_mismatches_;
  prometheus::Family<prometheus::Gauge>& unshipped_;
  prometheus::Family<prometheus::Gauge>& last_local_;
  prometheus::Family<prometheus::Gauge>& globals_status_;
  prometheus::Family<prometheus::Gauge>& globals_success_;
  prometheus::Gauge& basebackup_success_;
  prometheus::Gauge& basebackup_size_;
  prometheus::Family<prometheus::Gauge>& pitr_status_;
  prometheus::Family<prometheus::Gauge>& pitr_success_;
  prometheus::Family<prometheus::Gauge>& pitr_duration_;
  prometheus::Family<prometheus::Gauge>& pitr_recovered_to_;
  std::unique_ptr<legacy_metrics> legacy_;
  struct wal_series;
  std::unique_ptr<wal_series> wal_;
  std::mutex mutex_;
  std::map<std::string, std::chrono::system_clock::time_point> last_success_at_;
};

}  // namespace pgship::agent

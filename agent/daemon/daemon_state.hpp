#pragma once
// What the daemon knows and does between runs: the active run (at most one), its control
// handle, the metrics and history it feeds, and each database's health. Lives on the
// daemon's single io thread; only the metrics and history are shared with other threads.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "daemon/agent_metrics.hpp"
#include "daemon/run_history.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "schedule/cron.hpp"
#include "settings.hpp"

namespace pgship::agent {

namespace wal {
class wal_stream;
}

struct health_report {
  bool healthy = true;
  std::string json;
};

class daemon_state {
 public:
  daemon_state(boost::asio::any_io_executor ex, settings cfg, cron_expr cron);

  const settings& cfg() const { return *cfg_; }
  const cron_expr& cron() const { return *cron_; }
  /// New settings (SIGHUP) for the runs that start from now on; the active one keeps its own.
  void reconfigure(settings cfg, cron_expr cron);
  agent_metrics& metrics() { return metrics_; }
  /// The WAL stream (WAL_STREAM=on) whose status /health, /metrics and /api/v1/wal show;
  /// it must outlive this object's use.
  void attach_wal(wal::wal_stream* stream) { wal_ = stream; }
  wal::wal_stream* wal() const { return wal_; }
  run_history& history() { return history_; }

  /// Loads the history (marking runs cut short by a crash as interrupted) and the health of
  /// each database from it, and what BACKUP_DIR holds for the metrics.
  void restore_from_history();
  /// Before answering /health, /metrics or the run history: takes in the runs one-shot
  /// commands (`pgship-agent backup` beside the daemon) added to the history file, and
  /// BACKUP_DIR's current backups (unshipped, newest local, newest shipped).
  void sync();

  /// Starts a backup run unless a job (backup or drill) is active: its id, or nullopt (then
  /// `active` is the running one).
  std::optional<std::string> start_run(const std::string& trigger,
                                       std::vector<std::string> databases, std::string& active);
  /// Starts a restore drill the same way: a drill and a backup never run together.
  std::optional<std::string> start_drill(const std::string& trigger,
                                         std::vector<std::string> databases, std::string& active);
  /// Starts a physical base backup the same way: one job at a time, whatever its kind.
  std::optional<std::string> start_basebackup(const std::string& trigger, std::string& active);
  /// A PITR drill to `at` (latest, random, an LSN or a time): the run id, or nullopt with
  /// `active` set while another job runs.
  std::optional<std::string> start_pitr_drill(const std::string& trigger, const std::string& at,
                                              std::string& active);
  /// A base backup is needed now (trigger "wal-gap": the server lost WAL the archive needed;
  /// "wal-start": a system with no complete base backup): started at once, else queued behind
  /// the active job and started when it ends; one that fails is tried again after
  /// `basebackup_retry`. Every step is logged: a wanted base backup is never dropped silently.
  void want_basebackup(const std::string& trigger, const std::string& why);
  static constexpr std::chrono::seconds basebackup_retry{60};
  bool running() const { return !active_run_.empty(); }
  const std::string& active_run() const { return active_run_; }
  /// The active run's current database, stage, bytes and rate; nullopt when idle.
  std::optional<boost::json::object> live_progress() const;
  /// Called with each finished job's record (the webhooks' events).
  void on_finished(std::function<void(const run_record&)> notify) { notify_ = std::move(notify); }
  /// Asks the active run to stop (pg_dump is killed, the partial file removed).
  void stop_active();
  /// Returns once no run is active, or after `limit`.
  boost::asio::awaitable<void> wait_idle(std::chrono::milliseconds limit);

  health_report health(std::chrono::system_clock::time_point now) const;
  /// HEALTH_MAX_AGE, or two of the schedule's longest periods.
  std::chrono::seconds max_age(std::chrono::system_clock::time_point now) const;

 private:
  struct result_health {
    bool ran = false;
    bool ok = false;
    std::string error;
    std::optional<std::chrono::system_clock::time_point> last_success;
  };
  struct database_health {
    result_health backup;
    result_health drill;
  };
  /// {"ok", "last_success", "error"} of a result, for /health.
  static boost::json::object result_object(const result_health& h);
  static void note_result(result_health& h, bool ok, std::string error,
                          std::optional<std::chrono::system_clock::time_point> at);

  /// Makes the job of `id` run with the settings and control it gets.
  using job_body = std::function<boost::asio::awaitable<run_record>(
      const std::string& id, const settings& cfg, run_control& control)>;
  template <class Request>
  std::optional<std::string> start_job(const std::string& kind, const Request& request,
                                       std::string& active, job_body body);
  /// Registers the job as active and in the history; its id.
  std::string begin_job(const std::string& kind, const std::string& trigger,
                        const std::vector<std::string>& databases);
  void finished(const run_record& run);
  void write_textfile();
  /// Health and the last results' metrics from the history, newest result winning.
  void apply_history();
  void refresh_local_backups();

  boost::asio::any_io_executor ex_;
  std::shared_ptr<const settings> cfg_;
  std::shared_ptr<const cron_expr> cron_;
  agent_metrics metrics_;
  run_history history_;
  std::string active_run_;
  std::shared_ptr<run_control> control_;
  std::map<std::string, database_health> health_;
  result_health globals_;     // GLOBALS: the cluster's roles, apart from any database's health
  result_health pitr_drill_;  // the cluster's, apart from any database's
  std::uint64_t applied_generation_ = 0;  // the history's generation apply_history() saw
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  wal::wal_stream* wal_ = nullptr;
  std::function<void(const run_record&)> notify_;
  // A base backup want_basebackup() queued behind the active job: its trigger and reason.
  std::optional<std::pair<std::string, std::string>> wanted_basebackup_;
  // Triggers whose base backup is running or failed and waits for its retry.
  void retry_wanted(const run_record& run);
};

}  // namespace pgship::agent

#pragma once
// What every run shares, a backup's and a drill's: its record (kind, id, trigger, start), a
// log context with its id and its own log file, BACKUP_DIR prepared and locked for it, the
// receiver's client, each database's step (cancelled once the run is stopping, its failure
// noted) and the finish. What a run does with each database is its own.

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "net/http_client.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "repository/backup_dir.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

class run_skeleton {
 public:
  /// Starts the record of a run of `kind` ("backup", "drill") with `run_id` (empty: a new
  /// one) and opens its log file.
  run_skeleton(const settings& cfg, run_control& control, std::string kind,
               const std::string& run_id, std::string trigger);
  run_skeleton(const run_skeleton&) = delete;
  run_skeleton& operator=(const run_skeleton&) = delete;

  run_record& record() { return run_; }
  const log::context& log() const { return lg_; }

  /// BACKUP_DIR prepared (a new host's empty one too: the lock lives in it) and locked until
  /// the run ends: one run at a time, a backup or a drill, whoever started it.
  stage_error lock_backup_dir();

  /// The receiver's client; config_invalid when BACKUP_API_URL is not an http(s) URL.
  boost::asio::awaitable<stage_error> open_receiver(std::unique_ptr<http_client>& out);

  /// Runs `work` for `d` unless the run is stopping (then `d` is cancelled and `work` never
  /// starts), and notes how `d` ended as a `job` ("backup", "drill").
  boost::asio::awaitable<void> step(database_run& d, std::string_view job,
                                    boost::asio::awaitable<stage_error> work);

  /// Ends the run with `error` (a failure before or beside its databases, or none) and
  /// returns its record.
  run_record finish(stage_error error = {});

 private:
  const settings& cfg_;
  run_control& control_;
  run_record run_;
  log::context lg_;
  std::unique_ptr<log::run_log_file> run_log_;
  run_lock lock_;
};

}  // namespace pgship::agent

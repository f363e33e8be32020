#include "pipeline/backup_run.hpp"
#include <chrono>
#include <map>
#include <memory>
#include <random>

#include <boost/asio/this_coro.hpp>

#include <pgship/common/backup_name.hpp>

#include "net/receiver_api.hpp"
#include "net/retry_policy.hpp"
#include "pg_tools.hpp"
#include "pipeline/archive_stage.hpp"
#include "pipeline/backup_context.hpp"
#include "pipeline/database_backup.hpp"
#include "pipeline/globals_stage.hpp"
#include "repository/backup_dir.hpp"
#include "repository/rotation.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;
namespace stdfs = std::filesystem;
using sys_clock = std::chrono::system_clock;

// Whether this client can upload now. A receiver restarting just as the run begins must not
// keep the whole run local: an unreachable one is asked again with the upload's backoff.
net::awaitable<stage_error> ask_until_answered(http_client& client, const settings& cfg,
                                               run_control& control, const log::context& lg) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int retry = 1;; ++retry) {
    auto error = co_await check_receiver_takes_uploads(client, cfg.backup_api_token);
    if (error.code != make_error_code(errc::receiver_unreachable) || retry > cfg.max_retries) {
      co_return error;
    }
    const auto delay = backoff_delay(cfg.retry_delay, retry, unit(rng));
    lg.warn("asking the receiver again, retry {} of {} in {:.1f} s: {}", retry, cfg.max_retries,
            static_cast<double>(delay.count()) / 1000.0, error.message);
    if (!co_await sleep_unless_stopped(delay, control)) co_return error;
  }
}

}  // namespace

net::awaitable<run_record> run_backup(const settings& cfg, const run_request& request,
                                      run_control& control) {
  run_record run;
  run.started = sys_clock::now();
  run.run_id = request.run_id.empty() ? new_run_id(run.started) : request.run_id;
  run.trigger = request.trigger;
  const auto databases = request.databases.empty() ? cfg.databases : request.databases;
  const log::context lg{{"run_id", run.run_id}};
  const auto run_log = open_run_log(cfg, run.run_id, run.log_file);
  lg.info("backup run started ({}): {} database(s)", run.trigger, databases.size());
  for (const auto& db : databases)
    run.databases.push_back(database_run{.database = db});

  const auto finish = [&run](stage_error error) { return finish_run(run, std::move(error)); };

  if (auto error = prepare_backup_dir(cfg.backup_dir)) co_return finish(std::move(error));
  run_lock lock;
  if (auto error = lock.acquire(cfg.backup_dir)) co_return finish(std::move(error));

  const auto partial_dir = cfg.backup_dir / ".partial";
  const int stale = remove_stale_partials(partial_dir, stdfs::file_time_type::clock::now());
  if (stale > 0)
    lg.warn("removed {} leftover file(s) of interrupted runs from {}", stale, partial_dir.string());

  std::unique_ptr<http_client> client;
  stage_error upload_blocked;
  if (cfg.upload) {
    client = make_receiver_client(co_await net::this_coro::executor, cfg);
    if (!client) {
      co_return finish(fail(errc::config_invalid, "BACKUP_API_URL is not an http(s) URL"));
    }
    // Asked for this client, not receiver-wide /health: another client's trouble or a scrub
    // finding must not stop this one. Whatever the answer, the local backups are made.
    upload_blocked = co_await ask_until_answered(*client, cfg, control, lg);
    if (upload_blocked) {
      lg.warn("backups stay local this run: {}", upload_blocked.message);
    }
  }

  std::map<int, pg_toolset> tools_by_major;
  for (auto& d : run.databases) {
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      backup_context ctx(cfg, request, control, run.run_id, client.get(), upload_blocked,
                         tools_by_major, d);
      d.error = co_await backup_database(ctx);
    }
    note_database_error(run, d, lg, "backup");
  }
  // GLOBALS (roles, tablespaces), when the run is for every database.
  if (cfg.globals && request.databases.empty() && !databases.empty()) {
    auto& d = run.databases.emplace_back(database_run{.database = std::string(globals_name)});
    d.globals = true;
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      backup_context ctx(cfg, request, control, run.run_id, client.get(), upload_blocked,
                         tools_by_major, d);
      d.error = co_await backup_globals(ctx, databases.front());
    }
    note_database_error(run, d, lg, "globals backup");
  }
  // The directories of ARCHIVE_DIRS, when the run is not for some databases only.
  // Named first: GCC 12 mishandles a temporary range across the co_await in the loop.
  const auto archives = request.databases.empty() ? cfg.archive_dirs : std::vector<archive_dir>{};
  for (const auto& dir : archives) {
    auto& d = run.databases.emplace_back(database_run{.database = dir.name});
    d.archive = true;
    if (control.stopping()) {
      d.error = fail(errc::cancelled, "the run was cancelled");
    } else {
      backup_context ctx(cfg, request, control, run.run_id, client.get(), upload_blocked,
                         tools_by_major, d);
      d.error = co_await backup_archive_dir(ctx, dir);
    }
    note_database_error(run, d, lg, "archive");
  }
  co_return finish(stage_error{});
}

}  // namespace pgship::agent

#include "pipeline/backup_run.hpp"
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <pgship/common/backup_name.hpp>

#include "net/healthcheck_ping.hpp"
#include "net/receiver_api.hpp"
#include "net/retry_policy.hpp"
#include "pg_tools.hpp"
#include "pipeline/archive_stage.hpp"
#include "pipeline/backup_context.hpp"
#include "pipeline/database_backup.hpp"
#include "pipeline/globals_stage.hpp"
#include "pipeline/run_skeleton.hpp"
#include "pipeline/upload.hpp"
#include "repository/rotation.hpp"

namespace pgship::agent {
namespace {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

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

// HEALTHCHECK_PING_URL's pings for `event`: one per database when the URL names {db} (its own
// outcome), else one for the run.
net::awaitable<void> ping(const settings& cfg, const run_record& run, ping_event event,
                          const log::context& lg) {
  if (cfg.healthcheck_ping_url.empty()) co_return;
  const auto tail = event == ping_event::start ? std::string() : log_tail(run.log_file);
  const auto outcome = [&](const stage_error& error) {
    if (event == ping_event::start) return event;
    return error ? ping_event::fail : ping_event::success;
  };
  // Named first: GCC 12 destroys temporaries of a co_await expression twice.
  std::vector<std::string> urls;
  if (cfg.healthcheck_ping_url.find("{db}") == std::string::npos) {
    urls.push_back(ping_url(cfg.healthcheck_ping_url, "", outcome(run.error), run.run_id));
  } else {
    for (const auto& d : run.databases) {
      // The databases' checks: GLOBALS and ARCHIVE_DIRS have none of their own.
      if (d.globals || d.archive) continue;
      urls.push_back(ping_url(cfg.healthcheck_ping_url, d.database, outcome(d.error), run.run_id));
    }
  }
  for (const auto& url : urls)
    co_await send_ping(url, tail, lg);
}

// The run's end, pinged.
net::awaitable<run_record> finish_pinged(run_skeleton& skeleton, const settings& cfg,
                                         stage_error error) {
  auto record = skeleton.finish(std::move(error));
  const auto event = record.error ? ping_event::fail : ping_event::success;
  co_await ping(cfg, record, event, skeleton.log());
  co_return record;
}

}  // namespace

net::awaitable<run_record> run_backup(const settings& cfg, const run_request& request,
                                      run_control& control) {
  run_skeleton skeleton(cfg, control, "backup", request.run_id, request.trigger);
  auto& run = skeleton.record();
  const auto& lg = skeleton.log();
  const auto databases = request.databases.empty() ? cfg.databases : request.databases;
  lg.info("backup run started ({}): {} database(s)", run.trigger, databases.size());
  for (const auto& db : databases)
    run.databases.push_back(database_run{.database = db});

  if (auto error = skeleton.lock_backup_dir()) co_return skeleton.finish(std::move(error));
  co_await ping(cfg, run, ping_event::start, lg);

  const auto partial_dir = cfg.backup_dir / ".partial";
  const int stale = remove_stale_partials(partial_dir, stdfs::file_time_type::clock::now());
  if (stale > 0)
    lg.warn("removed {} leftover file(s) of interrupted runs from {}", stale, partial_dir.string());

  std::unique_ptr<http_client> client;
  stage_error upload_blocked;
  if (cfg.upload) {
    if (auto error = co_await skeleton.open_receiver(client)) {
      auto record = co_await finish_pinged(skeleton, cfg, std::move(error));
      co_return record;
    }
    // Asked for this client, not receiver-wide /health: another client's trouble or a scrub
    // finding must not stop this one. Whatever the answer, the local backups are made.
    upload_blocked = co_await ask_until_answered(*client, cfg, control, lg);
    if (upload_blocked) {
      lg.warn("backups stay local this run: {}", upload_blocked.message);
    }
  }

  std::map<int, pg_toolset> tools_by_major;
  const auto context_for = [&](database_run& d) {
    return backup_context(cfg, request, control, run.run_id, client.get(), upload_blocked,
                          tools_by_major, d);
  };
  for (auto& d : run.databases) {
    auto ctx = context_for(d);
    auto work = backup_database(ctx);
    co_await skeleton.step(d, "backup", std::move(work));
  }
  // GLOBALS (roles, tablespaces), when the run is for every database.
  if (cfg.globals && request.databases.empty() && !databases.empty()) {
    auto& d = run.databases.emplace_back(database_run{.database = std::string(globals_name)});
    d.globals = true;
    auto ctx = context_for(d);
    auto work = backup_globals(ctx, databases.front());
    co_await skeleton.step(d, "globals backup", std::move(work));
  }
  // The directories of ARCHIVE_DIRS, when the run is not for some databases only.
  // Named first: GCC 12 mishandles a temporary range across the co_await in the loop.
  const auto archives = request.databases.empty() ? cfg.archive_dirs : std::vector<archive_dir>{};
  for (const auto& dir : archives) {
    auto& d = run.databases.emplace_back(database_run{.database = dir.name});
    d.archive = true;
    auto ctx = context_for(d);
    auto work = backup_archive_dir(ctx, dir);
    co_await skeleton.step(d, "archive", std::move(work));
  }
  stage_error none;
  auto record = co_await finish_pinged(skeleton, cfg, std::move(none));
  co_return record;
}

}  // namespace pgship::agent

// `pgship-agent run`: the daemon. One io thread serves the control API and runs the
// scheduler and the backup pipeline; SIGTERM/SIGINT stop it within 10 s (the active run is
// cancelled: pg_dump killed, partial file removed, the tus upload left resumable).

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/config.hpp>
#include <pgship/common/events/webhook_sender.hpp>
#include <pgship/common/http/server.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/stop_signals.hpp>
#include <pgship/common/version.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "commands/daemon_client.hpp"
#include "daemon/control_routes.hpp"
#include "daemon/daemon_state.hpp"
#include "daemon/scheduler.hpp"
#include "daemon/wal_report.hpp"
#include "drill/pitr_drill.hpp"
#include "net/receiver_api.hpp"
#include "pipeline/run_events.hpp"
#include "pipeline/run_reports.hpp"
#include "repository/rotation.hpp"
#include "wal/wal_stream.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// The stream's health as wal.lag / wal.caught_up events, looked at as often as /health could
// be: a change of state is one event.
net::awaitable<void> watch_wal_lag(wal::wal_stream& stream, events::webhook_sender& webhooks,
                                   std::chrono::milliseconds max_lag, bool resolve_at_start) {
  wal_lag_events lag(resolve_at_start);
  net::steady_timer tick(co_await net::this_coro::executor);
  for (;;) {
    tick.expires_after(std::chrono::seconds(10));
    const auto [ec] = co_await tick.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (auto e = lag.next(stream.status(), max_lag)) webhooks.publish(std::move(*e));
  }
}

}  // namespace

int command_run(const settings& cfg, std::function<settings()> reload) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  auto cron = parse_cron(cfg.schedule, error);
  if (!cron) throw config::config_error("SCHEDULE=\"" + cfg.schedule + "\" is invalid: " + error);

  if (!cfg.pitr_drill_schedule.empty()) {
    if (const auto why = pitr_drill_unable(cfg); !why.empty())
      throw config::config_error("PITR_DRILL_SCHEDULE is set, but " + why);
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.backup_dir / ".partial", ec);
  if (ec) {
    throw config::config_error("BACKUP_DIR=" + cfg.backup_dir.string() +
                               " cannot be created: " + ec.message());
  }
  const int stale = remove_stale_partials(cfg.backup_dir / ".partial",
                                          std::filesystem::file_time_type::clock::now());
  if (stale > 0) {
    log::write(spdlog::level::warn,
               "removed " + std::to_string(stale) + " leftover file(s) of interrupted runs", {});
  }

  net::io_context io;
  daemon_state state(io.get_executor(), cfg, *cron);
  state.restore_from_history();
  // WAL_STREAM: started once with the daemon's first settings (a reload does not restart it).
  std::unique_ptr<wal::wal_stream> wal_stream;
  if (cfg.wal_stream) {
    wal_stream = std::make_unique<wal::wal_stream>(io.get_executor(), wal::stream_config_of(cfg),
                                                   wal::receiver_of(io.get_executor(), cfg));
    state.attach_wal(wal_stream.get());
    // WAL alone no longer recovers past a gap: a base backup after it, at once.
    wal_stream->on_gap([&state](const std::string& system, const wire::wal::gap_record& gap) {
      state.want_basebackup("wal-gap", "system " + system + " lost WAL " +
                                           pgship::wal::format_lsn(gap.from) + " to " +
                                           pgship::wal::format_lsn(gap.to) + " of timeline " +
                                           std::to_string(gap.timeline) + " (" + gap.reason + ")");
    });
    // WAL with no complete base backup before it recovers nothing. With BASEBACKUP_SCHEDULE
    // one is taken now rather than at the schedule's next time; without, the operator takes
    // them, and is told. Once per system while the daemon runs (a failed one is retried).
    wal_stream->on_archive_opened(
        [&state, scheduled = !cfg.basebackup_schedule.empty(), told = std::set<std::string>()](
            const std::string& system, const wire::wal::archive_state& archive) mutable {
          if (!archive.basebackups.empty() || !told.insert(system).second) return;
          const std::string why =
              "the archive of system " + system + " has no complete base backup";
          if (scheduled) {
            state.want_basebackup("wal-start", why);
          } else {
            log::write(spdlog::level::warn,
                       why +
                           ": the WAL streamed into it recovers nothing until one is taken "
                           "(pgship-agent basebackup, or BASEBACKUP_SCHEDULE)",
                       {{"system", system}});
          }
        });
  }

  // WEBHOOK_*: each finished job's events, and the WAL stream's lag turning bad or good; what
  // an earlier run (or this one, before a restart) left undelivered goes first.
  std::unique_ptr<events::webhook_sender> webhooks;
  if (cfg.webhook.enabled()) {
    webhooks = std::make_unique<events::webhook_sender>(
        io.get_executor(), cfg.webhook, cfg.backup_dir / webhook_spool_dir,
        [&state](std::string_view result) { state.metrics().webhook_delivery(result); });
  }
  // Each finished job: its events, and its reports to the receiver's status page.
  state.on_finished([&webhooks, &state, &io](const run_record& record) {
    if (webhooks) {
      for (auto& e : events_of(record))
        webhooks->publish(std::move(e));
    }
    net::co_spawn(io, send_reports(state.cfg(), record), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& failure) {
        log::write(spdlog::level::warn, std::string("reports not sent: ") + failure.what(), {});
      }
    });
  });

  http_server::router routes;
  add_control_routes(routes, state);
  http_server::server_options options;
  options.server_header = std::string("pgship-agent/") + version;
  options.shutdown_grace = std::chrono::seconds(2);
  http_server::server server(io.get_executor(), std::move(routes), std::move(options));
  tcp::endpoint bound;
  try {
    bound = server.listen({net::ip::make_address(cfg.listen_addr),
                           static_cast<unsigned short>(cfg.healthcheck_port)});
  } catch (const boost::system::system_error& e) {
    throw config::config_error("cannot listen on " + cfg.listen_addr + ":" +
                               std::to_string(cfg.healthcheck_port) + ": " + e.code().message());
  }
  // SIGTERM/SIGINT, or a scheduler that throws: the active run is cancelled and waited for
  // (bounded), the control API closes, run() returns; a failed scheduler makes the exit code
  // non-zero.
  auto stop = std::make_shared<bool>(false);
  net::signal_set hangup(io, SIGHUP);
  const stop_control daemon_stop(io, [&](int signal) -> net::awaitable<void> {
    const auto cause =
        signal == 0 ? std::string("a background task failed") : "signal " + std::to_string(signal);
    log::write(spdlog::level::info, cause + ": stopping (a second signal exits at once)", {});
    *stop = true;
    hangup.cancel();
    state.stop_active();
    if (wal_stream) wal_stream->stop();
    co_await state.wait_idle(std::chrono::seconds(7));
    // The cancelled run's event goes out now, or waits in the spool for the next start.
    if (webhooks) co_await webhooks->drain(std::chrono::seconds(3));
    if (wal_stream) co_await wal_stream->wait_stopped(std::chrono::seconds(5));
    co_await server.shutdown();
    io.stop();
  });
  server.start(daemon_stop.supervise("http server"));

  // One scheduler of each kind at a time; a reload stops the old ones (they notice at their
  // next wake-up, before they could fire) and starts them on the new schedules.
  const auto start_schedulers = [&]() {
    *stop = true;
    stop = std::make_shared<bool>(false);
    const auto& now_cfg = state.cfg();
    scheduler_hooks hooks;
    hooks.fire = [&state](std::chrono::system_clock::time_point) {
      std::string active;
      if (state.start_run("schedule", {}, active)) return true;
      log::write(spdlog::level::warn, "scheduled backup skipped: run " + active + " is active",
                 {{"run_id", active}});
      return false;
    };
    hooks.next_run = [&state](std::chrono::system_clock::time_point at) {
      state.metrics().next_run(at);
    };
    hooks.skipped = [&state] { state.metrics().skipped(); };
    net::co_spawn(io,
                  run_scheduler(state.cron(), now_cfg.schedule_jitter, now_cfg.missed_runs,
                                scheduler_clock::system(), std::move(hooks), stop),
                  daemon_stop.supervise("backup scheduler"));
    // A job on its own schedule (validated with the settings): `start` returns the run id, or
    // nothing with `active` set while another job runs, and the fire is skipped.
    const auto schedule_job = [&](const std::string& cron_text, const std::string& what,
                                  std::function<bool(std::string&)> start) {
      if (cron_text.empty()) return;
      std::string bad;
      auto job_cron = parse_cron(cron_text, bad);
      scheduler_hooks job_hooks;
      job_hooks.fire = [what, start](std::chrono::system_clock::time_point) {
        std::string active;
        if (start(active)) return true;
        log::write(spdlog::level::warn,
                   "scheduled " + what + " skipped: run " + active + " is active",
                   {{"run_id", active}});
        return false;
      };
      job_hooks.next_run = [](std::chrono::system_clock::time_point) {};
      job_hooks.skipped = [&state] { state.metrics().skipped(); };
      net::co_spawn(
          io,
          run_scheduler(std::move(*job_cron), std::chrono::milliseconds(0), now_cfg.missed_runs,
                        scheduler_clock::system(), std::move(job_hooks), stop),
          daemon_stop.supervise(what + " scheduler"));
    };
    schedule_job(now_cfg.basebackup_schedule, "base backup", [&state](std::string& active) {
      return state.start_basebackup("schedule", active).has_value();
    });
    schedule_job(now_cfg.drill_schedule, "restore drill", [&state](std::string& active) {
      return state.start_drill("schedule", {}, active).has_value();
    });
    if (!now_cfg.pitr_drill_schedule.empty()) state.metrics().pitr_drills_scheduled();
    // Scheduled PITR drills alternate: `latest` exercises the newest base backup and all WAL,
    // a random moment of the window the older backups and the time map.
    schedule_job(now_cfg.pitr_drill_schedule, "PITR drill",
                 [&state, latest = std::make_shared<bool>(true)](std::string& active) {
                   if (!state.start_pitr_drill("schedule", *latest ? "latest" : "random", active))
                     return false;
                   *latest = !*latest;
                   return true;
                 });
  };
  start_schedulers();
  if (wal_stream) net::co_spawn(io, wal_stream->run(), daemon_stop.supervise("WAL stream"));
  if (wal_stream && webhooks) {
    const bool resolve_at_start = cfg.webhook.format == events::webhook_format::alertmanager;
    net::co_spawn(io, watch_wal_lag(*wal_stream, *webhooks, cfg.wal_max_lag, resolve_at_start),
                  daemon_stop.supervise("WAL lag events"));
  }

  std::function<void(boost::system::error_code, int)> on_hangup =
      [&](boost::system::error_code wait_ec, int) {
        if (wait_ec) return;
        try {
          auto fresh = reload();
          std::string why;
          auto fresh_cron = parse_cron(fresh.schedule, why);
          if (!fresh_cron) throw config::config_error("SCHEDULE is invalid: " + why);
          if (fresh.listen_addr != state.cfg().listen_addr ||
              fresh.healthcheck_port != state.cfg().healthcheck_port ||
              fresh.backup_dir != state.cfg().backup_dir) {
            log::write(spdlog::level::warn,
                       "LISTEN_ADDR, HEALTHCHECK_PORT and BACKUP_DIR change only on restart", {});
          }
          state.reconfigure(std::move(fresh), std::move(*fresh_cron));
          start_schedulers();
          log::write(spdlog::level::info,
                     "configuration reloaded: SCHEDULE \"" + state.cfg().schedule + "\"", {});
        } catch (const config::config_error& e) {
          log::write(
              spdlog::level::err,
              std::string("configuration reload refused, the old settings stay: ") + e.what(), {});
        }
        hangup.async_wait(on_hangup);
      };
  hangup.async_wait(on_hangup);

  if (cfg.run_on_startup) {
    std::string active;
    state.start_run("startup", {}, active);
  }

  log::write(spdlog::level::info,
             "pgship-agent " + std::string(version) + " running: SCHEDULE \"" + cfg.schedule +
                 "\", DRILL_SCHEDULE \"" + cfg.drill_schedule + "\", WAL_STREAM " +
                 (cfg.wal_stream ? "on" : "off") + ", databases " +
                 std::to_string(cfg.databases.size()) + ", control API on " +
                 bound.address().to_string() + ":" + std::to_string(bound.port()),
             {});
  std::printf("listening on %s:%u\n", bound.address().to_string().c_str(), bound.port());
  std::fflush(stdout);
  io.run();
  log::write(spdlog::level::info, "pgship-agent stopped", {});
  return daemon_stop.exit_code();
}

int command_healthcheck(const settings& cfg) {
  const std::string target = "/health";
  return run_command([&]() -> net::awaitable<int> {
    const auto reply = co_await get_from_daemon(cfg, target);
    if (!reply.ok()) {
      std::cerr << "pgship-agent healthcheck: " << reply.message << "\n";
      co_return 1;
    }
    std::cout << reply.response.body() << "\n";
    co_return reply.status() == 200 ? 0 : 1;
  });
}

}  // namespace pgship::agent

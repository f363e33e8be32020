#include <iostream>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "pg_connection.hpp"
#include "pipeline/basebackup_run.hpp"
#include "wal/wal_stream.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// Whether another process (a daemon with WAL_STREAM=on) streams on WAL_SLOT now: its stream
// then completes the base backup, and a second one could not take the slot anyway.
bool slot_streamed_elsewhere(const settings& cfg, std::string& pid) {
  stage_error error;
  auto conn = pg_connection::open(
      {cfg.postgres_host, cfg.postgres_port, cfg.postgres_user, cfg.postgres_password,
       cfg.databases.empty() ? "postgres" : cfg.databases.front()},
      error);
  if (error) return false;  // the run reports the connection itself
  const auto active = conn.query_value(
      "SELECT coalesce(active_pid::text, '') FROM pg_replication_slots WHERE slot_name = " +
          conn.quote_literal(cfg.wal_slot) + " AND active",
      error);
  pid = active.value_or("");
  return !error && !pid.empty();
}

// Without a daemon, this process streams the WAL the backup needs: up before pg_basebackup
// starts (so the slot exists and holds the backup's start point), stopped once it is done.
net::awaitable<stage_error> wait_until_streaming(wal::wal_stream& stream,
                                                 std::chrono::seconds limit) {
  net::steady_timer timer(co_await net::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!stream.status().up) {
    if (std::chrono::steady_clock::now() >= deadline) {
      const auto why = stream.status().last_error;
      co_return fail(errc::replication_unavailable,
                     "the WAL stream the base backup needs did not start within " +
                         std::to_string(limit.count()) + " s" + (why.empty() ? "" : ": " + why));
    }
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(net::use_awaitable);
  }
  co_return stage_error{};
}

// Stops the command's own stream and destroys it while its io_context still runs (its timers
// and sockets belong to that context).
net::awaitable<void> stop_stream(std::unique_ptr<wal::wal_stream>& stream) {
  if (!stream) co_return;
  stream->stop();
  co_await stream->wait_stopped(std::chrono::seconds(10));
  // A run() that did not stop still refers to the stream: leave it to the process's exit.
  if (stream->running()) {
    (void)stream.release();
  } else {
    stream.reset();
  }
}

}  // namespace

// Runs here, as a job holding BACKUP_DIR. The WAL that completes it comes from a daemon with
// WAL_STREAM=on streaming the same cluster, or, when none streams on WAL_SLOT, from a stream
// this command runs for as long as the backup takes.
int command_basebackup(const settings& cfg, progress_mode progress) {
  if (!cfg.wal_stream) {
    std::cerr << "basebackup needs WAL_STREAM=on: a base backup restores only with the WAL "
                 "after it, which the stream ships\n";
    return static_cast<int>(errc::config_invalid);
  }
  std::string daemon_pid;
  const bool own_stream = !slot_streamed_elsewhere(cfg, daemon_pid);
  run_control control;
  basebackup_request request;
  request.trigger = "manual";
  run_record record;
  std::unique_ptr<wal::wal_stream> stream;
  const int code = run_command(
      [&]() -> net::awaitable<int> {
        const auto ex = co_await net::this_coro::executor;
        if (own_stream) {
          stream = std::make_unique<wal::wal_stream>(ex, wal::stream_config_of(cfg),
                                                     wal::receiver_of(ex, cfg));
          net::co_spawn(ex, stream->run(), [](std::exception_ptr e) {
            if (!e) return;
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& failure) {
              std::cerr << "the WAL stream failed: " << failure.what() << "\n";
            }
          });
          // As long as the backup would wait for its WAL at the end, and at most a minute.
          const auto limit = std::min<std::chrono::seconds>(
              std::chrono::seconds(60),
              std::chrono::duration_cast<std::chrono::seconds>(cfg.basebackup_wal_timeout));
          const auto started =
              co_await wait_until_streaming(*stream, std::max(limit, std::chrono::seconds(1)));
          if (started) {
            std::cerr << started.message << "\n";
            co_await stop_stream(stream);
            co_return exit_code_for(started.code);
          }
        }
        const std::function<net::awaitable<run_record>()> job = [&] {
          return run_basebackup(cfg, request, control);
        };
        record = co_await watched_run(job, control, progress, "basebackup");
        co_await stop_stream(stream);
        co_await announce_run(cfg, record);
        co_return exit_code_for(record.error.code);
      },
      [&control, &stream] {
        control.request_stop();
        if (stream) stream->stop();
      });
  for (const auto& d : record.databases) {
    if (d.error) {
      std::cout << fmt::format(
          "{:<8}{}  {}: {}\n", counts_as_backup_result(d.error) ? "FAILED" : "NOT RUN",
          d.backup.empty() ? d.database : d.backup,
          error_name(static_cast<errc>(d.error.code.value())), d.error.message);
      continue;
    }
    std::cout << fmt::format("ok      {}  {:.1f} MiB  uploaded, WAL to its stop point held ({})\n",
                             d.backup, static_cast<double>(d.size) / 1048576.0,
                             own_stream ? "streamed by this command"
                                        : "streamed by another agent, walsender PID " + daemon_pid);
  }
  if (!record.databases.empty()) {
    add_to_run_history(cfg, record);
    write_run_metrics(cfg, record);
  }
  return code;
}

}  // namespace pgship::agent

#include "commands/command_runner.hpp"
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>

#include <pgship/common/errors.hpp>
#include <pgship/common/events/webhook_sender.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/stop_signals.hpp>

#include "daemon/agent_metrics.hpp"
#include "daemon/history_results.hpp"
#include "daemon/run_history.hpp"
#include "pipeline/run_events.hpp"
#include "pipeline/run_reports.hpp"
#include "repository/local_listing.hpp"

namespace pgship::agent {

namespace net = boost::asio;

int check_id_and_jobs(const std::string& id, int jobs) {
  if (!id.empty() && !fs::is_safe_name(id)) {
    std::cerr << "pgship-agent: --id must be a backup name ([A-Za-z0-9._-]+)\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (jobs < 1 || jobs > 64) {
    std::cerr << "pgship-agent: --jobs must be from 1 to 64\n";
    return static_cast<int>(errc::config_invalid);
  }
  return 0;
}

void add_to_run_history(const settings& cfg, const run_record& record) {
  if (record.error.code == make_error_code(errc::run_in_progress)) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(cfg.backup_dir, ec)) return;
  boost::system::error_code jec;
  auto value = boost::json::parse(to_json(record), jec);
  if (jec || !value.is_object()) return;
  run_history history(cfg.backup_dir / run_history_file);
  history.put(std::move(value.as_object()));
}

void write_run_metrics(const settings& cfg, const run_record& record) {
  // Refused because another run holds BACKUP_DIR: that run writes the textfile.
  if (!cfg.metrics_textfile || record.error.code == make_error_code(errc::run_in_progress)) return;
  agent_metrics metrics(cfg.databases, cfg.legacy_metrics);
  run_history history(cfg.backup_dir / run_history_file);
  history.reload_if_changed();  // not load(): that marks a daemon's active run interrupted
  apply_history_results(history_results(history.newest(500)), cfg.databases, metrics);
  for (const auto& db : cfg.databases)
    metrics.local_backups_known(db, summarize_local_backups(cfg.backup_dir, db, cfg.upload));
  metrics.run_finished(record);
  metrics.repo_size(local_backup_bytes(cfg.backup_dir));
  metrics.write_textfile(*cfg.metrics_textfile);
}

net::awaitable<run_record> watched_run(std::function<net::awaitable<run_record>()> job,
                                       run_control& control, progress_mode mode,
                                       std::string command) {
  const auto ex = co_await net::this_coro::executor;
  progress_watch watch(ex, control.progress, mode, std::move(command), {});
  auto record = co_await job();
  watch.stop();
  record.stalls = watch.stalls();
  co_return record;
}

net::awaitable<void> announce_run(const settings& cfg, const run_record& record) {
  if (record.error.code == make_error_code(errc::run_in_progress)) co_return;
  // Events first: when the receiver is what failed, its report would wait on it for nothing.
  if (cfg.webhook.enabled()) {
    const auto ex = co_await net::this_coro::executor;
    const std::optional<std::filesystem::path> spool = cfg.backup_dir / webhook_spool_dir;
    events::webhook_sender sender(ex, cfg.webhook, spool, nullptr);
    for (auto& e : events_of(record))
      sender.publish(std::move(e));
    if (const auto left = co_await sender.drain(webhook_exit_wait); left > 0) {
      log::write(spdlog::level::warn,
                 std::to_string(left) + " webhook events not delivered within " +
                     std::to_string(webhook_exit_wait.count()) + " s are kept for the next run",
                 {{"spool", spool->string()}});
    }
    sender.stop();
  }
  co_await send_reports(cfg, record);
}

int run_command(std::function<net::awaitable<int>()> body, std::function<void()> on_stop) {
  // A child that stops reading its stdin (pg_restore --list has what it needs, a failed
  // pg_restore) must be an EPIPE to handle, not a signal that ends the agent.
  std::signal(SIGPIPE, SIG_IGN);
  net::io_context io;
  std::optional<int> result;
  std::exception_ptr failure;
  // The body's completion stops `io`; the graceful stop only asks the body to end.
  const stop_control stop(io, [on_stop](int signal) -> net::awaitable<void> {
    log::write(spdlog::level::warn,
               "stop requested (signal " + std::to_string(signal) +
                   "); stopping the command, a second signal exits at once",
               {});
    if (on_stop) on_stop();
    co_return;
  });
  net::co_spawn(io, body(), [&](std::exception_ptr e, int code) {
    failure = e;
    result = code;
    io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return result.value_or(static_cast<int>(errc::internal));
}

}  // namespace pgship::agent

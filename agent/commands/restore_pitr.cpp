// `pgship-agent restore --pitr --at TIME|LSN|latest --target-dir DIR [--start]`: DIR set up to
// recover to the target (pipeline/pitr_recovery), and with --start PostgreSQL started on it and
// waited for until recovery reached the target (pipeline/pitr_start).

#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/log.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "pipeline/pitr_recovery.hpp"
#include "pipeline/pitr_start.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

int command_restore_pitr(const settings& cfg, const pitr_restore_options& opts) {
  std::string why;
  const auto target = parse_pitr_target(opts.at, why);
  if (!target) {
    std::cerr << "pgship-agent: " << why << "\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (opts.target_dir.empty()) {
    std::cerr << "pgship-agent: restore --pitr needs --target-dir DIR (empty or new)\n";
    return static_cast<int>(errc::config_invalid);
  }
  const auto dir = stdfs::absolute(opts.target_dir).lexically_normal();
  return run_command([&]() -> net::awaitable<int> {
    const auto failed = [](const stage_error& e) {
      std::cerr << "pgship-agent: " << e.message << "\n";
      return e.code.value();
    };
    recovery_request request;
    if (auto e = archive_system(cfg, opts.system, request.system)) co_return failed(e);
    if (auto e = check_readable_by_wal_fetch(cfg)) co_return failed(e);
    request.target = *target;
    request.dir = dir;
    request.say = [](std::string_view text) { log::write_stdout_line(text); };
    const auto ex = co_await net::this_coro::executor;
    live_progress progress;
    request.progress = &progress;
    progress_watch watch(ex, progress, opts.progress, "restore", {});
    std::vector<stage_record> stages;
    recovery_prepared prepared;
    const auto prepared_error = co_await prepare_recovery(cfg, request, stages, prepared);
    watch.stop();  // what follows is the command's own output
    if (prepared_error) co_return failed(prepared_error);
    const auto& side = prepared.side;
    std::string took;
    for (const auto& st : stages)
      took += (took.empty() ? "" : ", ") + st.name + " " + fmt::format("{:.1f}", st.seconds) + " s";
    std::cout << "unpacked and checked: " << took << "\n";
    if (!opts.start) {
      std::cout << "recovery to " << target->text << " is set up in " << dir.string()
                << " (wal-fetch settings and spool in " << side.string()
                << "); start PostgreSQL on it to recover: pg_ctl -D " << dir.string() << " start\n";
      co_return 0;
    }
    progress.begin(std::string(basebackup_name), "recover");
    progress_watch recovering(ex, progress, opts.progress, "restore", {});
    recovery_outcome recovered;
    const auto listen = restore_listen(side);
    const auto recover_error =
        co_await start_recovery(prepared.tools, dir, side, listen, recovered);
    recovering.stop();
    if (recover_error) co_return failed(recover_error);
    const auto& port = recovered.port;
    std::cout << "recovered to " << target->text << ": "
              << (recovered.said.empty() ? "(no word in the log)" : recovered.said)
              << "\nthe server runs on " << dir.string() << ", socket " << side.string() << " port "
              << port << " only (psql -h " << side.string() << " -p " << port
              << "); restart it with its own settings when it is checked\n";
    co_return 0;
  });
}

}  // namespace pgship::agent

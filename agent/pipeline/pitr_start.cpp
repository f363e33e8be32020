#include "pipeline/pitr_start.hpp"
#include <fstream>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "child_process.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace stdfs = std::filesystem;

namespace {

// postmaster.pid's lines (pid, directory, start time, port, socket directory, addresses,
// shared memory key, status); empty while no server runs on `dir`.
std::vector<std::string> postmaster_pid(const stdfs::path& dir) {
  std::vector<std::string> lines;
  std::ifstream in(dir / "postmaster.pid");
  for (std::string line; std::getline(in, line);) {
    line.erase(line.find_last_not_of(' ') + 1);
    lines.push_back(line);
  }
  return lines;
}

// The server log's word on where recovery stopped: PostgreSQL's own line ("recovery stopping
// before commit of transaction 736, time ..."), else its last replayed transaction's time.
std::string recovery_end_of(const stdfs::path& log) {
  std::ifstream in(log);
  std::string stopping, last;
  for (std::string line; std::getline(in, line);) {
    const auto log_at = line.find("LOG:");
    auto text = log_at == std::string::npos ? line : line.substr(log_at + 4);
    text.erase(0, text.find_first_not_of(' '));
    if (text.starts_with("recovery stopping")) stopping = text;
    if (text.starts_with("last completed transaction was at log time")) last = text;
  }
  return !stopping.empty() ? stopping : last;
}

}  // namespace

std::string restore_listen(const stdfs::path& socket_dir) {
  return "-c listen_addresses='' -c unix_socket_directories='" + socket_dir.string() + "'";
}

net::awaitable<stage_error> start_recovery(const pg_toolset& tools, const stdfs::path& dir,
                                           const stdfs::path& side,
                                           const std::string& server_options, recovery_outcome& out,
                                           std::shared_ptr<child_handle> child) {
  auto& port = out.port;
  pg_tool pg_ctl;
  if (auto e = co_await find_tool_beside(tools.dump, "pg_ctl", "restore --pitr --start", pg_ctl))
    co_return e;
  const auto log = side / "server.log";
  child_spec start;
  start.program = pg_ctl.path;
  start.args = {"-D", dir.string(), "-l", log.string(), "-W", "-o", server_options, "start"};
  std::string said;
  const auto started = co_await run_child_capture(start, said);
  if (!started.ok()) {
    co_return fail(errc::restore_failed, "pg_ctl start failed (" + started.describe() +
                                             "): " + started.last_error_line());
  }
  // Recovery is over once PostgreSQL removed recovery.signal (it does so when it promotes)
  // and the postmaster says "ready". pg_control cannot tell: the base backup's copy of it
  // already says "in production".
  net::steady_timer pause(co_await net::this_coro::executor);
  bool seen_running = false;
  for (int waited = 0;; ++waited) {
    if (child && child->kill_requested()) {
      co_await stop_server(tools, dir);
      co_return fail(errc::cancelled, "recovery stopped");
    }
    std::error_code ec;
    const auto pid_file = postmaster_pid(dir);
    if (!pid_file.empty()) seen_running = true;
    if (!pid_file.empty() && pid_file.size() >= 8 && pid_file[7].starts_with("ready") &&
        !stdfs::exists(dir / "recovery.signal", ec)) {
      port = pid_file[3];
      break;
    }
    if (pid_file.empty() && (seen_running || waited > 240)) {
      // The server stopped (or never came up): recovery failed, PostgreSQL says why.
      // PostgreSQL's last FATAL or PANIC, and what wal-fetch said before it (its stderr goes
      // to the same log): why a segment could not be had.
      std::ifstream in(log);
      std::string last, fetch_said, line;
      while (std::getline(in, line)) {
        if (line.find("FATAL") != std::string::npos || line.find("PANIC") != std::string::npos)
          last = line;
        if (line.find("pgship-agent wal-fetch: ") != std::string::npos) fetch_said = line;
      }
      co_return fail(errc::restore_failed,
                     "PostgreSQL stopped before recovery reached its target (" + log.string() +
                         "): " + last + (fetch_said.empty() ? "" : " (" + fetch_said + ")"));
    }
    pause.expires_after(std::chrono::milliseconds(250));
    co_await pause.async_wait(net::use_awaitable);
  }
  out.said = recovery_end_of(log);
  co_return stage_error{};
}

net::awaitable<void> stop_server(const pg_toolset& tools, const stdfs::path& dir) {
  if (postmaster_pid(dir).empty()) co_return;
  pg_tool pg_ctl;
  if (co_await find_tool_beside(tools.dump, "pg_ctl", "stopping a recovered server", pg_ctl))
    co_return;
  for (const char* mode : {"fast", "immediate"}) {
    child_spec stop;
    stop.program = pg_ctl.path;
    stop.args = {"-D", dir.string(), "-m", mode, "-t", "60", "-w", "stop"};
    std::string said;
    const auto stopped = co_await run_child_capture(stop, said);
    if (stopped.ok() || postmaster_pid(dir).empty()) co_return;
  }
}

}  // namespace pgship::agent

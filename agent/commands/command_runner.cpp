#include "commands/command_runner.hpp"
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <pgship/common/errors.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/stop_signals.hpp>

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

int run_command(std::function<net::awaitable<int>()> body, std::function<void()> on_stop) {
  // A child that stops reading its stdin (pg_restore --list has what it needs, a failed
  // pg_restore) must be an EPIPE to handle, not a signal that ends the agent.
  std::signal(SIGPIPE, SIG_IGN);
  net::io_context io;
  std::optional<int> result;
  std::exception_ptr failure;
  on_stop_signal(io.get_executor(), [on_stop](int signal) -> net::awaitable<void> {
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

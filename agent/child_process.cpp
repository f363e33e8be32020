#include "child_process.hpp"
#include <array>
#include <csignal>
#include <set>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pgship/common/process_group.hpp>

extern char** environ;

namespace pgship::agent {

namespace net = boost::asio;
namespace bp = boost::process::v2;

namespace {

constexpr std::size_t stderr_keep = 64 * 1024;

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
}

// Exactly one of the two sinks is called (or none: stdout is discarded).
struct stdout_sinks {
  stdout_sink now;
  async_stdout_sink waits;
};

net::awaitable<std::error_code> pump_stdout(net::readable_pipe& out, const stdout_sinks& sinks,
                                            pid_t pid) {
  std::vector<char> buffer(256 * 1024);
  std::error_code sink_ec;
  for (;;) {
    auto [ec, n] =
        co_await out.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable));
    if (n > 0 && !sink_ec && (sinks.now || sinks.waits)) {
      const std::span<const char> piece(buffer.data(), n);
      if (sinks.waits) {
        sink_ec = co_await sinks.waits(piece);
      } else {
        sink_ec = sinks.now(piece);
      }
      // Keep draining after killing it, so the child never blocks on a full pipe.
      if (sink_ec) kill_group(pid);
    }
    if (ec) break;
  }
  co_return sink_ec;
}

net::awaitable<std::error_code> feed_stdin(net::writable_pipe& in, const stdin_feeder& feeder,
                                           pid_t pid) {
  std::error_code ec;
  if (feeder) ec = co_await feeder(in);
  if (ec) kill_group(pid);
  boost::system::error_code ignored;
  in.close(ignored);
  co_return ec;
}

net::awaitable<void> collect_stderr(net::readable_pipe& err, std::string& text) {
  std::array<char, 16384> buffer;
  for (;;) {
    auto [ec, n] =
        co_await err.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable));
    text.append(buffer.data(), n);
    if (text.size() > stderr_keep) text.erase(0, text.size() - stderr_keep);
    if (ec) break;
  }
}

}  // namespace

void child_handle::kill() {
  kill_requested_ = true;
  if (kill_) kill_();
}

std::string child_result::describe() const {
  if (!started) return "could not start: " + start_error;
  if (timed_out) return "timed out";
  if (sink_error) return "output could not be stored: " + sink_error.message();
  // A child that failed on its own also breaks the pipe its input comes through: its exit
  // says more than the feeder's EPIPE.
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  if (exit_code != 0 || !feed_error) return "exit " + std::to_string(exit_code);
  return "input stopped: " + feed_error.message();
}

std::string child_result::last_error_line() const {
  std::string_view text(err);
  while (!text.empty()) {
    const auto nl = text.find_last_of('\n');
    const auto line = nl == std::string_view::npos ? text : text.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) return std::string(line);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(0, nl);
  }
  return {};
}

std::string child_result::postgres_error() const {
  std::vector<std::string_view> lines;
  for (std::string_view text(err); !text.empty();) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto at = lines[i].find("ERROR:");
    if (at == std::string_view::npos) continue;
    std::string out(lines[i].substr(at));
    std::string_view command;
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      const auto line = lines[j];
      if (line.starts_with("DETAIL:") || line.starts_with("HINT:")) {
        out += " ";
        out += line;
      } else if (line.starts_with("Command was: ")) {
        command = line.substr(13);
        break;
      } else if (!line.starts_with("CONTEXT:") && !line.starts_with(" ") &&
                 !line.starts_with("\t")) {
        break;
      }
    }
    // pg_restore names the statement that failed (a whole COPY header, a CREATE ...): enough
    // of it to find the object.
    if (!command.empty()) {
      constexpr std::size_t shown = 160;
      out += " (in: " + std::string(command.substr(0, shown)) +
             (command.size() > shown ? "...)" : ")");
    }
    return out;
  }
  return last_error_line();
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  static const std::set<std::string_view> secrets = {"POSTGRES_PASSWORD",
                                                     "BACKUP_API_TOKEN",
                                                     "CONTROL_TOKEN",
                                                     "PGPASSWORD",
                                                     "DRILL_POSTGRES_PASSWORD",
                                                     "POSTGRES_PASSWORD_FILE",
                                                     "BACKUP_API_TOKEN_FILE",
                                                     "CONTROL_TOKEN_FILE",
                                                     "DRILL_POSTGRES_PASSWORD_FILE",
                                                     "REPLICATION_PASSWORD",
                                                     "REPLICATION_PASSWORD_FILE"};
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || secrets.contains(entry.substr(0, eq))) continue;
    env[std::string(entry.substr(0, eq))] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra)
    env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env)
    out.push_back(k + "=" + v);
  return out;
}

namespace {

net::awaitable<child_result> run_child_with(const child_spec& spec, stdout_sinks sinks,
                                            std::shared_ptr<child_handle> handle,
                                            stdin_feeder feeder) {
  // A child that stops reading its stdin (pg_restore --list once it has the table of
  // contents, a pg_restore that failed) must be an EPIPE the feeder handles, not a signal
  // that ends the agent: whoever runs a child with input gets SIGPIPE ignored.
  if (feeder) std::signal(SIGPIPE, SIG_IGN);
  auto ex = co_await net::this_coro::executor;
  child_result result;
  net::readable_pipe out(ex);
  net::readable_pipe err(ex);
  net::writable_pipe in(ex);
  const auto env = child_environment(spec.env);
  std::optional<bp::process> proc;
  try {
    if (feeder) {
      proc.emplace(ex, bp::filesystem::path(spec.program.string()), spec.args,
                   bp::process_stdio{in, out, err}, bp::process_environment(env),
                   new_process_group{}, only_stdio_inherited{});
    } else {
      proc.emplace(ex, bp::filesystem::path(spec.program.string()), spec.args,
                   bp::process_stdio{nullptr, out, err}, bp::process_environment(env),
                   new_process_group{}, only_stdio_inherited{});
    }
  } catch (const boost::system::system_error& e) {
    result.start_error = spec.program.string() + ": " + e.code().message();
    co_return result;
  }
  result.started = true;
  const pid_t pid = proc->id();
  if (handle) {
    if (handle->kill_requested()) kill_group(pid);
    handle->attach([pid] { kill_group(pid); });
  }

  // The timer's handler may run after this frame is gone (cancel only queues it), so what it
  // touches is shared, and it never signals a child that has already been reaped.
  struct deadline_state {
    bool fired = false;
    bool reaped = false;
  };
  const auto state = std::make_shared<deadline_state>();
  net::steady_timer deadline(ex);
  if (spec.timeout) {
    deadline.expires_after(*spec.timeout);
    deadline.async_wait([pid, state](boost::system::error_code ec) {
      if (ec || state->reaped) return;
      state->fired = true;
      kill_group(pid);
    });
  }

  auto stdout_task = net::co_spawn(ex, pump_stdout(out, sinks, pid), net::deferred);
  auto stderr_task = net::co_spawn(ex, collect_stderr(err, result.err), net::deferred);
  auto stdin_task = net::co_spawn(ex, feed_stdin(in, feeder, pid), net::deferred);
  auto [order, e1, sink_ec, e2, e3, feed_ec] =
      co_await net::experimental::make_parallel_group(std::move(stdout_task),
                                                      std::move(stderr_task), std::move(stdin_task))
          .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
  (void)order;
  if (e1) std::rethrow_exception(e1);
  if (e2) std::rethrow_exception(e2);
  if (e3) std::rethrow_exception(e3);
  result.sink_error = sink_ec;
  result.feed_error = feed_ec;

  auto [wait_ec, code] = co_await proc->async_wait(net::as_tuple(net::use_awaitable));
  (void)code;
  state->reaped = true;
  result.timed_out = state->fired;
  deadline.cancel();
  if (handle) {
    result.stopped = handle->kill_requested();
    handle->detach();
  }
  const int status = proc->native_exit_code();
  if (wait_ec) {
    result.exit_code = -1;
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  co_return result;
}

}  // namespace

net::awaitable<child_result> run_child(const child_spec& spec, stdout_sink sink,
                                       std::shared_ptr<child_handle> handle, stdin_feeder feeder) {
  stdout_sinks sinks{std::move(sink), nullptr};
  co_return co_await run_child_with(spec, std::move(sinks), std::move(handle), std::move(feeder));
}

net::awaitable<child_result> run_child_paced(const child_spec& spec, async_stdout_sink sink,
                                             std::shared_ptr<child_handle> handle) {
  stdout_sinks sinks{nullptr, std::move(sink)};
  co_return co_await run_child_with(spec, std::move(sinks), std::move(handle), nullptr);
}

net::awaitable<child_result> run_child_capture(const child_spec& spec, std::string& out) {
  constexpr std::size_t limit = 16 * 1024 * 1024;
  stdout_sink sink = [&out](std::span<const char> data) -> std::error_code {
    if (out.size() + data.size() > limit) return std::make_error_code(std::errc::file_too_large);
    out.append(data.data(), data.size());
    return {};
  };
  co_return co_await run_child(spec, std::move(sink));
}

}  // namespace pgship::agent

#include "process.hpp"
#include <filesystem>
#include <functional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pgship/common/process_group.hpp>

extern char** environ;

namespace pgship::test {
namespace {

namespace net = boost::asio;
namespace bp = boost::process::v2;

}  // namespace

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos) env[std::string(entry.substr(0, eq))] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra)
    env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env)
    out.push_back(k + "=" + v);
  return out;
}

std::string process_result::describe() const {
  std::string s = timed_out ? "timed out" : "exit " + std::to_string(exit_code);
  if (!err.empty()) s += ": " + err;
  return s;
}

process_result run_process(const std::vector<std::string>& argv, const process_options& options) {
  process_result result;
  if (argv.empty()) return result;
  bp::filesystem::path exe = argv[0];
  if (argv[0].find('/') == std::string::npos) exe = bp::environment::find_executable(argv[0]);
  if (exe.empty()) {
    result.exit_code = 127;
    result.err = argv[0] + ": not found on PATH";
    return result;
  }

  net::io_context io;
  net::readable_pipe out(io);
  net::readable_pipe err(io);
  net::writable_pipe in(io);
  const auto env_strings = merged_environment(options.env);
  const bp::filesystem::path cwd(options.cwd.value_or(std::filesystem::current_path()).string());
  const std::vector<std::string> args(argv.begin() + 1, argv.end());

  bp::process proc(io, exe, args, bp::process_stdio{in, out, err},
                   bp::process_environment(env_strings), bp::process_start_dir(cwd),
                   new_process_group{}, only_stdio_inherited{});
  const auto pid = proc.id();

  std::string input = options.stdin_data.value_or("");
  net::async_write(in, net::buffer(input), [&](boost::system::error_code, std::size_t) {
    boost::system::error_code ignored;
    in.close(ignored);
  });
  net::steady_timer timer(io, options.timeout);
  bool exited = false;
  int reads_pending = 2;
  const auto on_read = [&](boost::system::error_code, std::size_t) {
    if (--reads_pending == 0 && exited) timer.cancel();
  };
  net::async_read(out, net::dynamic_buffer(result.out), on_read);
  net::async_read(err, net::dynamic_buffer(result.err), on_read);

  // Before exit: the deadline kills the process group. After exit: a grandchild may still
  // hold our pipes open, so stop reading them shortly after.
  std::function<void(boost::system::error_code)> on_timer = [&](boost::system::error_code ec) {
    if (ec) return;
    if (!exited) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      return;
    }
    boost::system::error_code ignored;
    out.close(ignored);
    err.close(ignored);
  };
  timer.async_wait(on_timer);
  proc.async_wait([&](boost::system::error_code ec, int) {
    exited = true;
    const int status = proc.native_exit_code();
    if (ec) {
      result.exit_code = -1;
    } else if (WIFSIGNALED(status)) {
      result.exit_code = 128 + WTERMSIG(status);
    } else {
      result.exit_code = WEXITSTATUS(status);
    }
    if (reads_pending == 0) {
      timer.cancel();
    } else {
      timer.expires_after(std::chrono::seconds(2));
      timer.async_wait(on_timer);
    }
  });
  io.run();
  return result;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace pgship::test

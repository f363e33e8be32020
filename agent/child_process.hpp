#pragma once
// Runs a PostgreSQL tool (pg_dump, pg_restore) as an asynchronous child process: stdout is
// handed over chunk by chunk as it arrives, stderr is kept (its tail) for the log, and the
// environment is the agent's own minus its secrets plus what the caller adds (PGPASSWORD).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>

namespace pgship::agent {

struct child_spec {
  std::filesystem::path program;
  std::vector<std::string> args;
  /// Added to the inherited environment (replacing variables of the same name).
  std::map<std::string, std::string> env;
  std::optional<std::chrono::milliseconds> timeout;
};

struct child_result {
  bool started = false;
  int exit_code = -1;  // valid when exited normally
  int signal = 0;      // non-zero when killed by a signal
  bool timed_out = false;
  bool stopped = false;        // killed through child_handle::kill
  std::error_code sink_error;  // what stopped the stdout sink, if it failed
  std::error_code feed_error;  // what stopped the stdin feeder, if it failed
  std::string start_error;     // why it did not start
  std::string err;             // stderr (the last 64 KiB)

  bool ok() const { return started && exit_code == 0 && signal == 0 && !sink_error && !feed_error; }
  /// "exit 1", "killed by signal 9", "timed out", "could not start: ..." for messages.
  std::string describe() const;
  /// The last non-empty stderr line, for one-line error messages.
  std::string last_error_line() const;
  /// What PostgreSQL said when a client tool failed on a query: its first `ERROR:` line with
  /// the `DETAIL:` and `HINT:` lines that follow it, and the start of the statement pg_restore
  /// ran; the last line when there is no ERROR: (pg_restore's own last line is often a
  /// `CONTEXT:` or `Command was:` line, which says little).
  std::string postgres_error() const;
};

/// Lets another coroutine stop a running child (a run being cancelled).
class child_handle {
 public:
  void kill();
  bool kill_requested() const { return kill_requested_; }
  /// For work that is not a child (a replication connection): what kill() does while it
  /// runs. detach() once it ended.
  void attach(std::function<void()> stop) { kill_ = std::move(stop); }
  void detach() { kill_ = nullptr; }

 private:
  std::function<void()> kill_;
  bool kill_requested_ = false;
};

/// Receives stdout as it arrives; an error stops the child (SIGKILL) and is reported.
using stdout_sink = std::function<std::error_code(std::span<const char>)>;

/// The same, for a consumer that may wait (an upload): the next read of the pipe waits for it,
/// so a slow consumer fills the pipe and blocks the child instead of filling memory. The bytes
/// are valid until its awaitable completes.
using async_stdout_sink =
    std::function<boost::asio::awaitable<std::error_code>(std::span<const char>)>;

/// Writes the child's stdin and returns when it has written all of it (the pipe is then
/// closed: end of input). An error kills the child before the pipe closes, so the child
/// never mistakes a cut-short input for a complete one.
using stdin_feeder =
    std::function<boost::asio::awaitable<std::error_code>(boost::asio::writable_pipe&)>;

/// Runs the child to completion. `sink` may be empty (stdout is then discarded); without a
/// `feeder` the child's stdin is /dev/null.
boost::asio::awaitable<child_result> run_child(const child_spec& spec, stdout_sink sink,
                                               std::shared_ptr<child_handle> handle = nullptr,
                                               stdin_feeder feeder = nullptr);
/// run_child with a sink that may wait (backpressure down to the child); its own name, so a
/// `nullptr` sink stays unambiguous.
boost::asio::awaitable<child_result> run_child_paced(
    const child_spec& spec, async_stdout_sink sink, std::shared_ptr<child_handle> handle = nullptr);

/// Runs the child and returns its stdout as text (small outputs: versions, listings).
boost::asio::awaitable<child_result> run_child_capture(const child_spec& spec, std::string& out);

/// The agent's environment without its own secrets (POSTGRES_PASSWORD, BACKUP_API_TOKEN,
/// CONTROL_TOKEN, DRILL_POSTGRES_PASSWORD and their _FILE forms, PGPASSWORD), then `extra`
/// on top. Sorted KEY=VALUE.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra);

}  // namespace pgship::agent

#pragma once
// How a program stops. The first SIGTERM/SIGINT starts a graceful stop, a second one ends the
// process at once (an operator pressing Ctrl-C twice means it). A coroutine meant to run until
// then (a background loop, a scheduler) is spawned with a completion handler from `supervise`:
// if it throws, the program takes the same graceful stop and exits non-zero, instead of running
// on silently without it.

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include <pgship/common/http/net.hpp>

namespace pgship {

/// Completion handler for `net::co_spawn` of a task meant to run until the process stops.
/// Success and cancellation (operation_aborted, as at shutdown) pass quietly; any other
/// exception is logged as one error line naming `task` ("housekeeping failed: ..."), then
/// `shut_down` runs. Holds no state of its own; callable from any thread.
std::function<void(std::exception_ptr)> log_and_stop_on_exception(std::string task,
                                                                  std::function<void()> shut_down);

namespace detail {
struct stop_state;
}

/// A program's one way to stop, for an `io` whose run() returning ends it. From construction
/// on, the first SIGINT or SIGTERM, or the first supervised task that fails, runs
/// `graceful(signal)` once (signal 0 for a failed task); `graceful` ends with io.stop(), or
/// leads to whatever else stops `io`. Another signal after the first exits immediately with
/// status 128+signal. If `graceful` itself throws,
/// that is logged and `io` is stopped.
///
/// Why stopping the io_context, not exit(): run() returns in the program's own frame, so the
/// server, the pools and the run lock are released by their destructors, the last log lines
/// are flushed, and the program returns exit_code() from main like any other failure.
/// Thread-safe: the handlers may run on any thread running `io`.
class stop_control {
 public:
  stop_control(net::io_context& io, std::function<net::awaitable<void>(int)> graceful);

  /// Completion handler for `net::co_spawn` of a task that should run until the program stops:
  /// on an exception, log_and_stop_on_exception with the graceful stop above.
  std::function<void(std::exception_ptr)> supervise(std::string task) const;

  /// 0, or errc::internal (1) once a supervised task or the graceful stop itself has failed.
  int exit_code() const noexcept;

 private:
  std::shared_ptr<detail::stop_state> state_;
};

}  // namespace pgship

#include <chrono>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <pgship/common/stop_signals.hpp>

#include "captured_log.hpp"

namespace pgship {
namespace {

using namespace std::chrono_literals;

using test::captured_log;

// A graceful stop that records the signal it was started for and ends run().
std::function<net::awaitable<void>(int)> recording_stop(net::io_context& io,
                                                        std::vector<int>& signals) {
  return [&io, &signals](int signal) -> net::awaitable<void> {
    signals.push_back(signal);
    io.stop();
    co_return;
  };
}

net::awaitable<void> throws_runtime_error() {
  const auto executor = co_await net::this_coro::executor;
  co_await net::post(executor, net::use_awaitable);
  throw std::runtime_error("the disk went away");
}

net::awaitable<void> completes() {
  const auto executor = co_await net::this_coro::executor;
  co_await net::post(executor, net::use_awaitable);
}

net::awaitable<void> cancelled() {
  const auto executor = co_await net::this_coro::executor;
  co_await net::post(executor, net::use_awaitable);
  throw boost::system::system_error(net::error::operation_aborted);
}

TEST(LogAndStopOnException, AThrowLogsOneErrorLineNamingTheTaskAndShutsDown) {
  captured_log log(spdlog::level::err);
  net::io_context io;
  int shut_downs = 0;
  net::co_spawn(io, throws_runtime_error(),
                log_and_stop_on_exception("housekeeping", [&] { ++shut_downs; }));
  io.run();
  EXPECT_EQ(shut_downs, 1);
  EXPECT_NE(log.text().find("housekeeping failed, stopping: the disk went away"), std::string::npos)
      << log.text();
}

TEST(LogAndStopOnException, CompletionAndCancellationPassQuietly) {
  captured_log log(spdlog::level::info);
  net::io_context io;
  int shut_downs = 0;
  net::co_spawn(io, completes(), log_and_stop_on_exception("loop", [&] { ++shut_downs; }));
  net::co_spawn(io, cancelled(), log_and_stop_on_exception("loop", [&] { ++shut_downs; }));
  io.run();
  EXPECT_EQ(shut_downs, 0);
  EXPECT_EQ(log.text(), "");
}

TEST(StopControl, AFailedTaskRunsTheGracefulStopOnceAndTheExitCodeIsInternal) {
  captured_log log(spdlog::level::info);
  net::io_context io;
  std::vector<int> graceful_signals;
  const stop_control stop(io, recording_stop(io, graceful_signals));
  EXPECT_EQ(stop.exit_code(), 0);
  net::co_spawn(io, throws_runtime_error(), stop.supervise("backup scheduler"));
  net::co_spawn(io, throws_runtime_error(), stop.supervise("drill scheduler"));
  io.run_for(10s);  // io.stop() ends it at once; the bound only keeps a bug from hanging
  EXPECT_EQ(graceful_signals, std::vector<int>{0});
  EXPECT_EQ(stop.exit_code(), 1);
  EXPECT_NE(log.text().find("backup scheduler failed, stopping: the disk went away"),
            std::string::npos)
      << log.text();
}

TEST(StopControl, ASignalRunsTheGracefulStopWithItsNumberAndExitsZero) {
  captured_log log(spdlog::level::info);
  net::io_context io;
  std::vector<int> graceful_signals;
  const stop_control stop(io, recording_stop(io, graceful_signals));
  net::post(io, [] { std::raise(SIGTERM); });
  io.run_for(10s);
  EXPECT_EQ(graceful_signals, std::vector<int>{SIGTERM});
  EXPECT_EQ(stop.exit_code(), 0);
}

TEST(StopControl, TasksThatCompleteLeaveTheProgramRunning) {
  captured_log log(spdlog::level::info);
  net::io_context io;
  std::vector<int> graceful_signals;
  const stop_control stop(io, recording_stop(io, graceful_signals));
  net::co_spawn(io, completes(), stop.supervise("housekeeping"));
  net::co_spawn(io, cancelled(), stop.supervise("scrub schedule"));
  // The signal watch keeps run() busy: it returns only at the bound.
  io.run_for(200ms);
  EXPECT_TRUE(graceful_signals.empty());
  EXPECT_EQ(stop.exit_code(), 0);
  EXPECT_EQ(log.text(), "");
}

TEST(StopControl, AGracefulStopThatThrowsStillEndsRunWithTheInternalCode) {
  captured_log log(spdlog::level::info);
  net::io_context io;
  const stop_control stop(io, [&](int) -> net::awaitable<void> {
    co_await net::post(io, net::use_awaitable);
    throw std::runtime_error("server shutdown broke");
  });
  net::co_spawn(io, throws_runtime_error(), stop.supervise("housekeeping"));
  const auto started = std::chrono::steady_clock::now();
  io.run_for(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(stop.exit_code(), 1);
  EXPECT_NE(log.text().find("graceful stop failed, stopping: server shutdown broke"),
            std::string::npos)
      << log.text();
}

}  // namespace
}  // namespace pgship

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <pgship/common/stop_signals.hpp>

namespace pgship {
namespace {

net::awaitable<void> watch(std::function<net::awaitable<void>(int)> graceful) {
  auto executor = co_await net::this_coro::executor;
  auto signals = std::make_shared<net::signal_set>(executor, SIGINT, SIGTERM);
  auto [ec, signal] = co_await signals->async_wait(net::as_tuple(net::use_awaitable));
  if (ec) co_return;
  spdlog::info("received {}, shutting down", strsignal(signal));

  // The second signal is watched by a separate coroutine while the graceful stop runs.
  net::co_spawn(
      executor,
      [signals]() -> net::awaitable<void> {
        auto [ec2, second] = co_await signals->async_wait(net::as_tuple(net::use_awaitable));
        if (ec2) co_return;
        spdlog::warn("received {} again, exiting now", strsignal(second));
        spdlog::default_logger()->flush();
        std::_Exit(128 + second);
      },
      net::detached);

  co_await graceful(signal);
  signals->cancel();
}

}  // namespace

void on_stop_signal(net::any_io_executor executor,
                    std::function<net::awaitable<void>(int)> graceful) {
  net::co_spawn(executor, watch(std::move(graceful)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("graceful shutdown failed: {}", ex.what());
    }
  });
}

}  // namespace pgship

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include <pgship/common/errors.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/stop_signals.hpp>

namespace pgship {

std::function<void(std::exception_ptr)> log_and_stop_on_exception(std::string task,
                                                                  std::function<void()> shut_down) {
  return [task = std::move(task), shut_down = std::move(shut_down)](std::exception_ptr e) {
    if (!e) return;
    std::string what;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
      // Cancelled at shutdown: the stop is already under way, nothing failed.
      if (ex.code() == net::error::operation_aborted) {
        spdlog::debug("{} cancelled", task);
        return;
      }
      what = ex.what();
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
      what = "an exception that is not a std::exception";
    }
    log::write(spdlog::level::err, task + " failed, stopping: " + what, {{"task", task}});
    if (shut_down) shut_down();
  };
}

namespace detail {

// Everything runs on `strand`: the signal set is not safe to use from two threads at once, and
// the receiver runs its io_context on two.
struct stop_state {
  stop_state(net::io_context& context, std::function<net::awaitable<void>(int)> g)
      : io(context),
        strand(net::make_strand(context)),
        signals(strand, SIGINT, SIGTERM),
        graceful(std::move(g)) {}

  net::io_context& io;
  net::strand<net::io_context::executor_type> strand;
  net::signal_set signals;
  std::function<net::awaitable<void>(int)> graceful;
  bool stopping = false;  // on the strand
  std::atomic<int> exit_code{0};
};

}  // namespace detail

namespace {

using detail::stop_state;

// Starts the graceful stop, once. Call on the strand.
void begin_stop(const std::shared_ptr<stop_state>& s, int signal) {
  if (s->stopping) return;
  s->stopping = true;
  // The graceful stop is what failed: nothing gentler is left than ending run().
  net::co_spawn(s->strand, s->graceful(signal), log_and_stop_on_exception("graceful stop", [s] {
                  s->exit_code = static_cast<int>(errc::internal);
                  s->io.stop();
                }));
}

net::awaitable<void> watch_signals(std::shared_ptr<stop_state> s) {
  for (;;) {
    auto [ec, signal] = co_await s->signals.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    // Watched until the process ends, so a signal during the graceful stop is never lost.
    if (s->stopping) {
      spdlog::warn("received {} again, exiting now", strsignal(signal));
      spdlog::default_logger()->flush();
      std::_Exit(128 + signal);
    }
    spdlog::info("received {}, shutting down", strsignal(signal));
    begin_stop(s, signal);
  }
}

}  // namespace

stop_control::stop_control(net::io_context& io, std::function<net::awaitable<void>(int)> graceful)
    : state_(std::make_shared<stop_state>(io, std::move(graceful))) {
  // The watcher cannot throw short of bad_alloc; if it does, signals would go unheard.
  auto s = state_;
  net::co_spawn(s->strand, watch_signals(s), log_and_stop_on_exception("signal watch", [s] {
                  s->exit_code = static_cast<int>(errc::internal);
                  net::dispatch(s->strand, [s] { begin_stop(s, 0); });
                }));
}

std::function<void(std::exception_ptr)> stop_control::supervise(std::string task) const {
  auto s = state_;
  return log_and_stop_on_exception(std::move(task), [s] {
    s->exit_code = static_cast<int>(errc::internal);
    net::dispatch(s->strand, [s] { begin_stop(s, 0); });
  });
}

int stop_control::exit_code() const noexcept {
  return state_->exit_code;
}

}  // namespace pgship

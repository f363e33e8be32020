#include "net/upload_job.hpp"
#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

namespace net = boost::asio;
using clock = std::chrono::steady_clock;

net::awaitable<bool> sleep_unless(std::chrono::milliseconds delay,
                                  const std::function<bool()>& stopping) {
  net::steady_timer timer(co_await net::this_coro::executor);
  const auto until = clock::now() + delay;
  while (clock::now() < until) {
    if (stopping()) co_return false;
    timer.expires_after(
        std::min<clock::duration>(until - clock::now(), std::chrono::milliseconds(200)));
    co_await timer.async_wait(net::use_awaitable);
  }
  co_return !stopping();
}

}  // namespace pgship::agent

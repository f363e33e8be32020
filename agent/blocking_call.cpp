#include "blocking_call.hpp"
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

namespace net = boost::asio;

net::awaitable<void> run_on_own_thread(std::function<void()> work) {
  net::experimental::concurrent_channel<void(boost::system::error_code)> done(
      co_await net::this_coro::executor, 1);
  std::thread worker([&] {
    work();
    done.try_send(boost::system::error_code{});
  });
  co_await done.async_receive(net::as_tuple(net::use_awaitable));
  worker.join();
}

}  // namespace pgship::agent

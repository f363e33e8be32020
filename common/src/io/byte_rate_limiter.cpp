#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/io/byte_rate_limiter.hpp>

namespace pgship::io {

namespace net = boost::asio;
using steady = std::chrono::steady_clock;

byte_rate_limiter::byte_rate_limiter(std::uint64_t bytes_per_second)
    : rate_(bytes_per_second),
      burst_(std::max(256.0 * 1024, static_cast<double>(bytes_per_second) / 10)),
      tokens_(burst_),
      refilled_(steady::now()) {}

net::awaitable<void> byte_rate_limiter::take(std::size_t n) {
  double debt = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = steady::now();
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                             static_cast<double>(rate_));
    refilled_ = now;
    tokens_ -= static_cast<double>(n);
    debt = -tokens_;
  }
  if (debt <= 0) co_return;
  // In debt: wait until the bucket is back at zero.
  const auto wait = std::chrono::duration<double>(debt / static_cast<double>(rate_));
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<steady::duration>(wait));
  co_await timer.async_wait(net::use_awaitable);
}

}  // namespace pgship::io

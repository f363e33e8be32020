#include "net/rate_limit.hpp"
#include <algorithm>
#include <mutex>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::agent {

namespace net = boost::asio;
using steady = std::chrono::steady_clock;

byte_rate_limiter::byte_rate_limiter(std::uint64_t bytes_per_second)
    : rate_(bytes_per_second),
      burst_(std::max(256.0 * 1024, static_cast<double>(bytes_per_second) / 10)),
      tokens_(burst_),
      refilled_(steady::now()) {}

net::awaitable<void> byte_rate_limiter::take(std::size_t n) {
  const auto now = steady::now();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                           static_cast<double>(rate_));
  refilled_ = now;
  tokens_ -= static_cast<double>(n);
  if (tokens_ >= 0) co_return;
  // In debt: wait until the bucket is back at zero.
  const auto wait = std::chrono::duration<double>(-tokens_ / static_cast<double>(rate_));
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<steady::duration>(wait));
  co_await timer.async_wait(net::use_awaitable);
}

std::shared_ptr<byte_rate_limiter> upload_rate_limiter(std::uint64_t bytes_per_second) {
  static std::mutex mutex;
  static std::shared_ptr<byte_rate_limiter> shared;
  if (bytes_per_second == 0) return nullptr;
  std::lock_guard lock(mutex);
  if (!shared || shared->rate() != bytes_per_second) {
    shared = std::make_shared<byte_rate_limiter>(bytes_per_second);
  }
  return shared;
}

}  // namespace pgship::agent

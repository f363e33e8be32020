// UPLOAD_RATE_LIMIT's bucket: bytes beyond the burst wait for the rate, never less (a lower
// bound only: a loaded machine may be slower, never faster).

#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "net/rate_limit.hpp"

namespace pgship::agent {
namespace {

double seconds_to_take(byte_rate_limiter& limiter, std::size_t total, std::size_t piece) {
  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        for (std::size_t sent = 0; sent < total; sent += piece)
          co_await limiter.take(piece);
      },
      boost::asio::detached);
  io.run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(rate_limit_test, BytesBeyondTheBurstGoAtTheRate) {
  constexpr std::uint64_t rate = 4 * 1024 * 1024;
  byte_rate_limiter limiter(rate);
  // The burst is a tenth of a second's worth (419 KiB here): 2 MiB needs the rest at 4 MiB/s.
  const double secs = seconds_to_take(limiter, 2 * 1024 * 1024, 64 * 1024);
  const double floor = (2.0 * 1024 * 1024 - rate / 10.0) / rate;
  EXPECT_GE(secs, floor * 0.95) << "faster than UPLOAD_RATE_LIMIT";
  EXPECT_LT(secs, floor + 2.0);
}

TEST(rate_limit_test, UnlimitedIsNoLimiterAndTheProcessSharesOne) {
  EXPECT_EQ(upload_rate_limiter(0), nullptr);
  const auto a = upload_rate_limiter(1024 * 1024);
  EXPECT_EQ(upload_rate_limiter(1024 * 1024), a) << "every upload of the agent shares one bucket";
  EXPECT_NE(upload_rate_limiter(2 * 1024 * 1024), nullptr);
}

}  // namespace
}  // namespace pgship::agent

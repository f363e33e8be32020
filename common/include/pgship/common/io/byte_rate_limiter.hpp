#pragma once
// A byte-rate cap as a token bucket (the agent's UPLOAD_RATE_LIMIT, the receiver's
// CLIENT_MAX_RATE). Bytes are taken before they move; whoever runs ahead of the rate waits on
// a timer (never spins) until the bucket's debt is paid. Shared by several streams, each
// waits for the debt of all of them, so they take turns and share the rate evenly. The burst
// is a tenth of a second's worth, at least one 256 KiB piece, so the rate holds over any
// window longer than that. Thread-safe.

#include <chrono>
#include <cstdint>
#include <mutex>

#include <boost/asio/awaitable.hpp>

namespace pgship::io {

class byte_rate_limiter {
 public:
  explicit byte_rate_limiter(std::uint64_t bytes_per_second);
  /// Waits until `n` bytes may move.
  boost::asio::awaitable<void> take(std::size_t n);
  std::uint64_t rate() const { return rate_; }

 private:
  const std::uint64_t rate_;
  const double burst_;
  std::mutex mutex_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
};

}  // namespace pgship::io

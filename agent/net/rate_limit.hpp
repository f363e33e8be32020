#pragma once
// UPLOAD_RATE_LIMIT: a token bucket every upload byte of the agent passes through, so a
// backup need not saturate a trading server's link. Bytes are taken before they are
// written; a writer that runs ahead of the rate waits on a timer (it never spins). The burst
// is a tenth of a second's worth, at least one 256 KiB piece, so the rate holds over any
// window longer than that.

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/awaitable.hpp>

namespace pgship::agent {

class byte_rate_limiter {
 public:
  explicit byte_rate_limiter(std::uint64_t bytes_per_second);
  /// Waits until `n` bytes may be sent.
  boost::asio::awaitable<void> take(std::size_t n);
  std::uint64_t rate() const { return rate_; }

 private:
  std::uint64_t rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
};

/// The agent-wide limiter for `bytes_per_second` (one per process, shared by every upload);
/// null when unlimited (0).
std::shared_ptr<byte_rate_limiter> upload_rate_limiter(std::uint64_t bytes_per_second);

}  // namespace pgship::agent

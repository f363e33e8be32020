#pragma once
// CLIENT_MAX_RATE: one byte bucket per client, which every upload body of that client is read
// through, so a client's concurrent uploads share its rate evenly. Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <pgship/common/io/byte_rate_limiter.hpp>

namespace pgship::receiver {

class client_byte_rates {
 public:
  /// 0: no limit.
  explicit client_byte_rates(std::uint64_t bytes_per_second) : rate_(bytes_per_second) {}

  /// The bucket for `client`; null when there is no limit.
  std::shared_ptr<io::byte_rate_limiter> for_client(const std::string& client) {
    if (rate_ == 0) return nullptr;
    std::lock_guard lock(mutex_);
    auto& limiter = limiters_[client];
    if (!limiter) limiter = std::make_shared<io::byte_rate_limiter>(rate_);
    return limiter;
  }

 private:
  const std::uint64_t rate_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<io::byte_rate_limiter>> limiters_;  // known clients only
};

}  // namespace pgship::receiver

#include "net/rate_limit.hpp"
#include <mutex>

namespace pgship::agent {

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

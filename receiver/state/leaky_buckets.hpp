#pragma once
// nginx's limit_req arithmetic, one bucket per key (a client IP, a token's client): each
// request adds one to the bucket's excess, which drains at `rate` per second; a request that
// would take the excess above `burst` is refused at once (limit_req ... nodelay) and changes
// nothing. The same buckets count failed logins: past `burst` failures the key is blocked
// until its bucket has drained empty. State is bounded: at most `capacity` keys, the least
// recently used evicted first, and idle ones (drained, not blocked) expire. Thread-safe.

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pgship::receiver {

class leaky_buckets {
 public:
  using clock = std::chrono::steady_clock;

  leaky_buckets(double rate_per_second, double burst, std::size_t capacity = 65536);

  struct verdict {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  // when refused: until a request would pass
    /// The first refusal since the key was last let through (or blocked): worth a log line;
    /// the rest of a flood is only counted.
    bool first = true;
  };

  /// A request from `key`.
  verdict hit(std::string_view key, clock::time_point now = clock::now());
  /// A failed login from `key`: past `burst` of them the key is blocked until drained.
  void add_failure(std::string_view key, clock::time_point now = clock::now());
  /// Whether `key` is blocked by failures.
  verdict blocked(std::string_view key, clock::time_point now = clock::now());

  std::size_t size() const;

 private:
  struct bucket {
    double excess = 0;
    clock::time_point last;
    clock::time_point blocked_until;
    bool refusing = false;      // refused since the last request let through
    bool block_logged = false;  // blocked() has reported this block once
    std::list<std::string>::iterator lru;
  };
  bucket& touch(std::string_view key, clock::time_point now);
  double drained(const bucket& b, clock::time_point now) const;
  std::chrono::seconds seconds_until(double excess_over) const;

  const double rate_;
  const double burst_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<std::string> order_;  // most recently used first
  std::unordered_map<std::string, bucket> buckets_;
};

/// The key a client address is limited under: an IPv4 address as it is (also when it comes
/// IPv4-mapped), an IPv6 address by its /64, which one host can fill with addresses at will.
std::string address_key(std::string_view peer);

}  // namespace pgship::receiver

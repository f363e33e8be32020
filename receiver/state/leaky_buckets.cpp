#include "state/leaky_buckets.hpp"
#include <algorithm>
#include <cmath>
#include <iterator>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace pgship::receiver {

leaky_buckets::leaky_buckets(double rate_per_second, double burst, std::size_t capacity)
    : rate_(rate_per_second), burst_(burst), capacity_(std::max<std::size_t>(capacity, 1)) {}

double leaky_buckets::drained(const bucket& b, clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  return std::max(0.0, b.excess - rate_ * std::max(0.0, elapsed));
}

std::chrono::seconds leaky_buckets::seconds_until(double excess_over) const {
  // Retry-After is whole seconds, and never 0: "now" would invite an immediate retry storm.
  return std::chrono::seconds(
      std::max<long long>(1, static_cast<long long>(std::ceil(excess_over / rate_))));
}

leaky_buckets::bucket& leaky_buckets::touch(std::string_view key, clock::time_point now) {
  // Idle keys expire: a drained bucket is the same as none. Two per call from the
  // least recently used end keep the table small without a sweep.
  for (int i = 0; i < 2 && !order_.empty(); ++i) {
    const auto idle = buckets_.find(order_.back());
    // A block lasts exactly until its excess has drained, so drained also means unblocked.
    if (drained(idle->second, now) > 0) break;
    buckets_.erase(idle);
    order_.pop_back();
  }
  auto it = buckets_.find(std::string(key));
  if (it != buckets_.end()) {
    order_.splice(order_.begin(), order_, it->second.lru);
    return it->second;
  }
  // Full: the least recently used key goes (a drained one costs nothing to forget).
  if (buckets_.size() >= capacity_) {
    buckets_.erase(order_.back());
    order_.pop_back();
  }
  order_.emplace_front(key);
  auto& b = buckets_[order_.front()];
  b.last = now;
  b.lru = order_.begin();
  return b;
}

leaky_buckets::verdict leaky_buckets::hit(std::string_view key, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& b = touch(key, now);
  const double excess = drained(b, now) + 1;
  if (excess > burst_ + 1) {
    // Refused: the bucket is left as it was, so refusals do not push the wait further out.
    const bool first = !b.refusing;
    b.refusing = true;
    return {false, seconds_until(excess - (burst_ + 1)), first};
  }
  b.excess = excess;
  b.last = now;
  b.refusing = false;
  return {};
}

void leaky_buckets::add_failure(std::string_view key, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& b = touch(key, now);
  b.excess = drained(b, now) + 1;
  b.last = now;
  if (b.excess > burst_) {
    if (b.blocked_until <= now) b.block_logged = false;  // a new block
    b.blocked_until = now + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(b.excess / rate_));
  }
}

leaky_buckets::verdict leaky_buckets::blocked(std::string_view key, clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = buckets_.find(std::string(key));
  if (it == buckets_.end() || it->second.blocked_until <= now) return {};
  const double left = std::chrono::duration<double>(it->second.blocked_until - now).count();
  const bool first = !it->second.block_logged;
  it->second.block_logged = true;
  return {false, seconds_until(left * rate_), first};
}

std::size_t leaky_buckets::size() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

std::string address_key(std::string_view peer) {
  const std::string text(peer);
  in6_addr a6{};
  if (::inet_pton(AF_INET6, text.c_str(), &a6) != 1) return text;  // IPv4, or unparsable
  char out[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    ::inet_ntop(AF_INET, &a6.s6_addr[12], out, sizeof out);
    return out;
  }
  std::fill(std::begin(a6.s6_addr) + 8, std::end(a6.s6_addr), 0);
  ::inet_ntop(AF_INET6, &a6, out, sizeof out);
  return std::string(out) + "/64";
}

}  // namespace pgship::receiver

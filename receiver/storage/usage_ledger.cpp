#include "storage/usage_ledger.hpp"
#include <algorithm>

namespace pgship::receiver {

void usage_ledger::created(const std::string& client, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  auto& u = usage_[client];
  u.first += bytes;
  u.second += 1;
  ++generation_;
  if (!counting_.empty()) commits_since_.push_back({generation_, client, bytes});
}

void usage_ledger::removed(const std::string& client, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  auto& u = usage_[client];
  u.first -= std::min(u.first, bytes);
  u.second -= std::min<std::uint64_t>(u.second, 1);
}

void usage_ledger::quarantined_one(const std::string& client, std::uint64_t bytes) {
  removed(client, bytes);
  std::lock_guard lock(mutex_);
  ++quarantined_;
}

std::uint64_t usage_ledger::count_begins() {
  std::lock_guard lock(mutex_);
  counting_.insert(generation_);
  return generation_;
}

void usage_ledger::recounted(std::uint64_t begun, store_count found) {
  std::lock_guard lock(mutex_);
  for (const auto& c : commits_since_) {
    if (c.generation <= begun) continue;
    found.usage[c.client].first += c.bytes;
    found.usage[c.client].second += 1;
  }
  count_ended(begun);
  usage_ = std::move(found.usage);
  quarantined_ = found.quarantined;
}

void usage_ledger::count_failed(std::uint64_t begun) {
  std::lock_guard lock(mutex_);
  count_ended(begun);
}

void usage_ledger::count_ended(std::uint64_t begun) {
  counting_.erase(counting_.find(begun));
  // A commit before every count still under way began is in each of them.
  const auto oldest = counting_.empty() ? generation_ : *counting_.begin();
  std::erase_if(commits_since_, [&](const auto& c) { return c.generation <= oldest; });
}

usage_map usage_ledger::usage() const {
  std::lock_guard lock(mutex_);
  return usage_;
}

std::size_t usage_ledger::quarantined() const {
  std::lock_guard lock(mutex_);
  return quarantined_;
}

}  // namespace pgship::receiver

#include "state/quota_ledger.hpp"

namespace pgship::receiver {

bool quota_ledger::hold(const std::string& key, const std::string& client, std::uint64_t bytes,
                        std::optional<std::uint64_t> quota) {
  std::lock_guard lock(mutex_);
  // Read under the lock: an upload that commits and releases meanwhile is counted either
  // as stored or as held.
  const auto stored = quota ? store_.usage() : usage_map{};
  auto& entry = held_[key];
  if (bytes <= entry.bytes && entry.client == client) return true;
  if (quota) {
    if (used(client, stored, key) + bytes > *quota) {
      if (entry.bytes == 0) held_.erase(key);
      return false;
    }
  }
  entry = {client, bytes};
  return true;
}

std::uint64_t quota_ledger::left(const std::string& client, std::uint64_t quota) {
  std::lock_guard lock(mutex_);
  const auto total = used(client, store_.usage(), {});
  return total >= quota ? 0 : quota - total;
}

std::uint64_t quota_ledger::used(const std::string& client, const usage_map& stored,
                                 const std::string& except_key) const {
  const auto it = stored.find(client);
  std::uint64_t total = it == stored.end() ? 0 : it->second.first;
  if (wal_) {
    const auto wal_usage = wal_->usage();
    if (const auto w = wal_usage.find(client); w != wal_usage.end()) total += w->second;
  }
  for (const auto& [key, h] : held_) {
    if (key != except_key && h.client == client) total += h.bytes;
  }
  return total;
}

void quota_ledger::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  held_.erase(key);
}

}  // namespace pgship::receiver

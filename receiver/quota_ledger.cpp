#include "quota_ledger.hpp"

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
    const auto it = stored.find(client);
    std::uint64_t total = it == stored.end() ? 0 : it->second.first;
    for (const auto& [other, h] : held_) {
      if (other != key && h.client == client) total += h.bytes;
    }
    if (total + bytes > *quota) {
      if (entry.bytes == 0) held_.erase(key);
      return false;
    }
  }
  entry = {client, bytes};
  return true;
}

void quota_ledger::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  held_.erase(key);
}

}  // namespace pgship::receiver

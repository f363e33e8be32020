#pragma once
// What a store holds per client, and how many backups are in quarantine: counted here once for
// every backend. A backend only reports facts (this backup was created, removed, quarantined;
// this is what a count of the whole store found); the storage interface feeds them in.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgship::receiver {

/// Stored bytes and backup count per client.
using usage_map = std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>;

/// What a backend found when it counted its whole store.
struct store_count {
  usage_map usage;
  std::size_t quarantined = 0;
};

/// Thread-safe.
class usage_ledger {
 public:
  void created(const std::string& client, std::uint64_t bytes);
  /// Removed or quarantined: out of the client's usage (never below zero).
  void removed(const std::string& client, std::uint64_t bytes);
  void quarantined_one(const std::string& client, std::uint64_t bytes);

  /// A count of the whole store begins: pass what this returns to recounted() or
  /// count_failed() when it ends.
  std::uint64_t count_begins();
  /// The count that began at `begun` replaces the ledger. A commit of this instance's since it
  /// began still counts, as the count may have missed it (a removal it missed counts until the
  /// next count: more, never less, than is stored).
  void recounted(std::uint64_t begun, store_count found);
  void count_failed(std::uint64_t begun);

  usage_map usage() const;
  std::size_t quarantined() const;

 private:
  struct commit_delta {
    std::uint64_t generation;
    std::string client;
    std::uint64_t bytes;
  };
  void count_ended(std::uint64_t begun);
  // Kept only while a count is under way, and only what one under way may have missed.

  mutable std::mutex mutex_;
  usage_map usage_;
  std::size_t quarantined_ = 0;
  std::uint64_t generation_ = 0;           // counts this instance's commits
  std::multiset<std::uint64_t> counting_;  // where the counts under way began
  std::vector<commit_delta> commits_since_;
};

}  // namespace pgship::receiver

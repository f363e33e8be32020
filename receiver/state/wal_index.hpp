#pragma once
// What the physical archive holds, per (client, system), in memory: the merged LSN ranges of
// each timeline (from unit names alone) and which timelines have their history file. Loaded
// from the store's listing on first use, then kept current by every stored file, so the state
// route and the segment list's "is there WAL beyond this segment" need no listing. Blocking
// (the first use lists the store): call it on a storage thread.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <pgship/common/wire/wal.hpp>

#include "storage/wal_store.hpp"

namespace pgship::receiver {

class wal_index {
 public:
  /// The archive state of `key`'s system; nullopt when the client has no such system.
  result<std::optional<wire::wal::archive_state>> state(const wal_store& store, const wal_key& key);
  /// Whether `timeline` has WAL at or past `from` (false for an unknown system).
  result<bool> holds_from(const wal_store& store, const wal_key& key, wal::timeline_id timeline,
                          wal::lsn from);
  /// `file_name` was stored for `key` (a system of `segment_size`): counted when the system is
  /// loaded already (otherwise its first use lists it, this file included).
  void stored(const wal_key& key, std::uint64_t segment_size, std::string_view file_name);

 private:
  struct system_index {
    std::uint64_t segment_size = 0;
    // Per timeline: from → to, disjoint and not touching.
    std::map<wal::timeline_id, std::map<wal::lsn, wal::lsn>> ranges;
    std::set<wal::timeline_id> histories;
    void add(std::string_view file_name);
  };
  static std::string key_of(const wal_key& key) { return key.client + '/' + key.system; }
  // The loaded index of `key`, listing the store first when needed; nullptr: no such system.
  result<system_index*> load(const wal_store& store, const wal_key& key);

  std::mutex mutex_;
  std::map<std::string, system_index> systems_;
};

}  // namespace pgship::receiver

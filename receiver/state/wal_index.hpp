#pragma once
// What the physical archive holds, per (client, system), in memory: the merged LSN ranges of
// each timeline (from unit names alone), which timelines have their history file, the newest
// time-map samples, the recorded gaps, the accepted base backup marks, and the PITR window
// computed from them (state/wal_window.hpp). Loaded from the store on first use (names, gaps,
// marks, and the sidecars of the newest few units of each timeline for their samples), then
// kept current by every stored file, gap and mark, so the state route, the segment list's "is
// there WAL beyond this segment", the mark route and /metrics read no sidecar. Blocking (the
// first use lists the store): call it on a storage thread.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/wire/wal.hpp>

#include "state/wal_window.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {

/// One client's physical archive as /metrics shows it.
struct wal_client_summary {
  /// The window of the client's system that reaches the newest time (none: no window).
  std::optional<wire::wal::pitr_window> pitr;
  /// Recorded gaps after each system's newest complete base backup: those that stop recovery
  /// to latest (every gap counts while a system has no complete base backup).
  std::uint64_t limiting_gaps = 0;
  /// Whether the client has a physical archive at all.
  bool has_archive = false;
};

class wal_index {
 public:
  /// The archive state of `key`'s system; nullopt when the client has no such system.
  result<std::optional<wire::wal::archive_state>> state(const wal_store& store, const wal_key& key);
  /// Whether `timeline` has WAL at or past `from` (false for an unknown system).
  result<bool> holds_from(const wal_store& store, const wal_key& key, wal::timeline_id timeline,
                          wal::lsn from);
  /// Whether one held range of `timeline` holds every byte of [start, stop] (stop < its end).
  result<bool> covers(const wal_store& store, const wal_key& key, wal::timeline_id timeline,
                      wal::lsn start, wal::lsn stop);
  /// `file_name` was stored for `key` (a system of `segment_size`) with the unit's
  /// X-Wal-Time-Map: counted when the system is loaded already (otherwise its first use lists
  /// it, this file included).
  void stored(const wal_key& key, std::uint64_t segment_size, std::string_view file_name,
              std::string_view time_map = {}, std::string_view timeline_switch = {});
  /// A gap was recorded for `key`.
  void gap_recorded(const wal_key& key, const wire::wal::gap_record& gap);
  /// A completion mark was accepted for `key`.
  void marked(const wal_key& key, const wire::wal::basebackup_mark& mark);
  /// Retention deleted files of `key`'s system: lists it from the store again.
  std::error_code reload(const wal_store& store, const wal_key& key);
  /// Every loaded system listed again: what another process (`pgship-receiver retention`, a
  /// replica sharing the store) deleted leaves the state, the window and /metrics.
  std::error_code reload_all(const wal_store& store);
  /// `client`'s archive over its systems (the store's listing; systems it cannot list: those
  /// loaded here).
  result<wal_client_summary> summary(const wal_store& store, const std::string& client);

  /// Samples kept per timeline: the newest by position (the window needs only the newest one
  /// inside the newest run; a few more cover a run that ends before the newest units).
  static constexpr std::size_t samples_kept = 64;
  /// Units whose sidecars a load reads per timeline, newest first, looking for samples.
  static constexpr std::size_t sidecars_read = 16;

 private:
  struct system_index {
    std::uint64_t segment_size = 0;
    // Per timeline: from → to, disjoint and not touching.
    std::map<wal::timeline_id, std::map<wal::lsn, wal::lsn>> ranges;
    std::set<wal::timeline_id> histories;
    // Per child timeline: where it branched off (its history file's X-Wal-Timeline-Switch).
    std::map<wal::timeline_id, timeline_switch> switches;
    // Per timeline: position → server time (unix ms), at most samples_kept.
    std::map<wal::timeline_id, std::map<wal::lsn, std::int64_t>> samples;
    std::vector<wire::wal::gap_record> gaps;
    std::map<std::string, wire::wal::basebackup_mark> marks;
    std::optional<wire::wal::pitr_window> window;
    void add(std::string_view file_name);
    void add_switch(std::string_view file_name, std::string_view timeline_switch);
    void add_samples(std::string_view file_name, std::string_view time_map);
    void add_gap(const wire::wal::gap_record& gap);
    window_input window_inputs() const;
    void recompute() { window = compute_window(window_inputs()); }
    std::uint64_t limiting_gaps() const;
  };
  static std::string key_of(const wal_key& key) { return key.client + '/' + key.system; }
  // The loaded index of `key`, listing the store first when needed; nullptr: no such system.
  result<system_index*> load(const wal_store& store, const wal_key& key);

  std::mutex mutex_;
  std::map<std::string, system_index> systems_;
};

}  // namespace pgship::receiver

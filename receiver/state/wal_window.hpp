#pragma once
// The point-in-time recovery window of one system, from what its archive holds (DESIGN
// "Physical archive", design §4.3). Pure: wal_index keeps the inputs and calls it on every
// change.
//
// The newest run is the last merged range of the newest timeline: where recovery "to latest"
// ends. newest = the newest time-map sample inside WAL that reaches that run's end; oldest =
// the stop time of the oldest complete base backup from whose start the WAL is contiguous up
// to that end (along recorded timeline switches when they are known). No such base backup, no
// window: WAL alone restores nothing.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::receiver {

/// Where a timeline branched off its parent (from its history file).
struct timeline_switch {
  wal::timeline_id parent = 0;
  wal::lsn at = 0;  // the first position of the child timeline
};

struct window_input {
  /// Per timeline: merged held ranges, ascending, disjoint and not touching.
  std::map<wal::timeline_id, std::vector<wire::wal::lsn_range>> ranges;
  /// Per child timeline; empty when the history files' contents are not known.
  std::map<wal::timeline_id, timeline_switch> switches;
  /// Per timeline: time-map samples (any order).
  std::map<wal::timeline_id, std::vector<wire::wal::time_sample>> samples;
  std::vector<wire::wal::basebackup_mark> backups;  // complete ones (accepted marks)
  std::vector<wire::wal::gap_record> gaps;          // recorded: never crossed
};

/// The timeline and end of the run recovery to latest reaches; nullopt without WAL.
std::optional<wire::wal::archive_state::position> newest_run_end(const window_input& in);

/// Whether the WAL from `backup`'s start is held without a hole (nor a recorded gap) up to the
/// newest run's end.
bool reaches_newest(const window_input& in, const wire::wal::basebackup_mark& backup);

std::optional<wire::wal::pitr_window> compute_window(const window_input& in);

}  // namespace pgship::receiver

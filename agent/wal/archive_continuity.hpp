#pragma once
// What `wal verify` judges in the receiver's archive state: per timeline, the WAL from its
// oldest held byte (from the oldest complete base backup's start when there is one: older WAL
// restores nothing) to its newest must be one contiguous run; every hole between two held
// ranges is a gap, and so is every gap the agent recorded there (a lost slot), with its
// reason. Timelines are judged apart: a new timeline's copy starts at or before its parent's
// switch point, so the step from one timeline to the next is never a hole. Pure.

#include <optional>
#include <string>
#include <vector>

#include <pgship/common/wire/wal.hpp>

namespace pgship::agent::wal {

struct wal_hole {
  pgship::wal::timeline_id timeline = 0;
  pgship::wal::lsn from = 0;  // first byte missing
  pgship::wal::lsn to = 0;    // first byte held again
  std::string reason;         // "" for a hole between held ranges; a recorded gap's reason
  bool operator==(const wal_hole&) const = default;
};

/// One timeline's span: its oldest held byte and the end of its newest range.
struct timeline_span {
  pgship::wal::timeline_id timeline = 0;
  pgship::wal::lsn from = 0;
  pgship::wal::lsn to = 0;
  bool operator==(const timeline_span&) const = default;
};

struct continuity {
  /// The oldest complete base backup, where the check starts; none: from the oldest WAL.
  std::optional<wire::wal::basebackup_mark> from_backup;
  std::vector<timeline_span> spans;  // timelines holding WAL, ascending
  std::vector<wal_hole> holes;       // ascending by timeline, then position
  bool ok() const { return holes.empty() && !spans.empty(); }
};

continuity check_continuity(const wire::wal::archive_state& state);

/// "timeline 1: 0/5000000 – 0/5800000", with " (reason)" when the hole has one.
std::string describe(const wal_hole& hole);
/// "timeline 1: 0/1000000 – 0/5A00000".
std::string describe(const timeline_span& span);

}  // namespace pgship::agent::wal

#pragma once
// A timeline history file as PostgreSQL writes it (`00000002.history`, what TIMELINE_HISTORY
// answers): one line per ancestor, "<parent tli>\t<switch point X/X>\t<reason>", oldest
// first. The switch point is where the parent ended and its child began: the history of
// timeline N says, for every position, which timeline holds it. Pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::agent::wal {

using pgship::wal::lsn;
using pgship::wal::timeline_id;

struct timeline_switch {
  timeline_id timeline = 0;  // the ancestor
  lsn ends_at = 0;           // its switch point: its WAL stops here, the next one's starts
  bool operator==(const timeline_switch&) const = default;
};

/// The history of `timeline`: its ancestors, oldest first (empty for timeline 1).
struct timeline_history {
  timeline_id timeline = 1;
  std::vector<timeline_switch> ancestors;

  /// Whether `t` is this timeline or one of its ancestors.
  bool knows(timeline_id t) const;
  /// Where `t` ends (its switch point); nullopt for this timeline (it has not ended) or a
  /// timeline it does not know.
  std::optional<lsn> end_of(timeline_id t) const;
  /// The timeline after `t` in this history (this timeline for the newest ancestor); nullopt
  /// when `t` is this timeline or unknown.
  std::optional<timeline_id> after(timeline_id t) const;
  /// The timeline holding `position`: the first ancestor whose switch point lies beyond it.
  timeline_id timeline_of(lsn position) const;
};

/// Parses `text` (a history file's content) as the history of `timeline`; nullopt (and `why`)
/// when a line is not "<tli> <X/X> ...", the timelines do not ascend below `timeline`, or the
/// switch points go backwards.
std::optional<timeline_history> parse_timeline_history(timeline_id timeline, std::string_view text,
                                                       std::string& why);

}  // namespace pgship::agent::wal

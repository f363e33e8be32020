#include "wal/archive_continuity.hpp"
#include <algorithm>
#include <tuple>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::agent::wal {

using pgship::wal::format_lsn;

namespace {

// The complete base backup whose WAL starts first (the oldest a recovery can start from).
std::optional<wire::wal::basebackup_mark> oldest_backup(const wire::wal::archive_state& state) {
  std::optional<wire::wal::basebackup_mark> out;
  for (const auto& b : state.basebackups) {
    if (!out || std::tie(b.timeline, b.start_lsn) < std::tie(out->timeline, out->start_lsn))
      out = b;
  }
  return out;
}

}  // namespace

continuity check_continuity(const wire::wal::archive_state& state) {
  continuity out;
  out.from_backup = oldest_backup(state);
  const auto& from = out.from_backup;
  // Whether [a, b) of `timeline` is at or after the check's start.
  const auto checked = [&](pgship::wal::timeline_id timeline, pgship::wal::lsn end) {
    return !from || timeline > from->timeline ||
           (timeline == from->timeline && end > from->start_lsn);
  };
  for (const auto& timeline : state.timelines) {
    std::vector<wire::wal::lsn_range> ranges;
    for (auto r : timeline.ranges) {
      if (!checked(timeline.timeline, r.to)) continue;
      if (from && timeline.timeline == from->timeline) r.from = std::max(r.from, from->start_lsn);
      ranges.push_back(r);
    }
    if (ranges.empty()) continue;  // a history file only, or all before the start
    out.spans.push_back({timeline.timeline, ranges.front().from, ranges.back().to});
    if (from && timeline.timeline == from->timeline && ranges.front().from > from->start_lsn) {
      out.holes.push_back({timeline.timeline, from->start_lsn, ranges.front().from, {}});
    }
    // The receiver merges touching ranges, so every step from one to the next is a hole; the
    // comparison still guards against an overlap a future sender could report unmerged.
    for (std::size_t i = 1; i < ranges.size(); ++i) {
      const auto end = ranges[i - 1].to;
      const auto next = ranges[i].from;
      if (next > end) out.holes.push_back({timeline.timeline, end, next, {}});
    }
  }
  // Recorded gaps name why a hole is there; one the ranges do not show (before the oldest WAL
  // held) is listed on its own.
  for (const auto& gap : state.gaps) {
    if (!checked(gap.timeline, gap.to)) continue;
    bool named = false;
    for (auto& hole : out.holes) {
      if (hole.timeline == gap.timeline && gap.from < hole.to && gap.to > hole.from) {
        if (hole.reason.empty()) hole.reason = gap.reason;
        named = true;
      }
    }
    if (!named) out.holes.push_back({gap.timeline, gap.from, gap.to, gap.reason});
  }
  std::sort(out.holes.begin(), out.holes.end(), [](const wal_hole& a, const wal_hole& b) {
    return a.timeline != b.timeline ? a.timeline < b.timeline : a.from < b.from;
  });
  return out;
}

std::string describe(const wal_hole& hole) {
  std::string text = "timeline " + std::to_string(hole.timeline) + ": " + format_lsn(hole.from) +
                     " \u2013 " + format_lsn(hole.to);
  if (!hole.reason.empty()) text += " (" + hole.reason + ")";
  return text;
}

std::string describe(const timeline_span& span) {
  return "timeline " + std::to_string(span.timeline) + ": " + format_lsn(span.from) + " \u2013 " +
         format_lsn(span.to);
}

}  // namespace pgship::agent::wal

#include "wal/archive_continuity.hpp"
#include <algorithm>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::agent::wal {

using pgship::wal::format_lsn;

continuity check_continuity(const wire::wal::archive_state& state) {
  continuity out;
  for (const auto& timeline : state.timelines) {
    if (timeline.ranges.empty()) continue;  // a history file only: nothing to join yet
    out.spans.push_back(
        {timeline.timeline, timeline.ranges.front().from, timeline.ranges.back().to});
    // The receiver merges touching ranges, so every step from one to the next is a hole; the
    // comparison still guards against an overlap a future sender could report unmerged.
    for (std::size_t i = 1; i < timeline.ranges.size(); ++i) {
      const auto end = timeline.ranges[i - 1].to;
      const auto next = timeline.ranges[i].from;
      if (next > end) out.holes.push_back({timeline.timeline, end, next, {}});
    }
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

#include "wal/timeline_history.hpp"
#include <charconv>

namespace pgship::agent::wal {

bool timeline_history::knows(timeline_id t) const {
  if (t == timeline) return true;
  for (const auto& a : ancestors)
    if (a.timeline == t) return true;
  return false;
}

std::optional<lsn> timeline_history::end_of(timeline_id t) const {
  for (const auto& a : ancestors)
    if (a.timeline == t) return a.ends_at;
  return std::nullopt;
}

std::optional<timeline_id> timeline_history::after(timeline_id t) const {
  for (std::size_t i = 0; i < ancestors.size(); ++i) {
    if (ancestors[i].timeline != t) continue;
    return i + 1 < ancestors.size() ? ancestors[i + 1].timeline : timeline;
  }
  return std::nullopt;
}

timeline_id timeline_history::timeline_of(lsn position) const {
  for (const auto& a : ancestors)
    if (position < a.ends_at) return a.timeline;
  return timeline;
}

std::optional<timeline_history> parse_timeline_history(timeline_id timeline, std::string_view text,
                                                       std::string& why) {
  timeline_history out;
  out.timeline = timeline;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    timeline_id parent = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), parent);
    line.remove_prefix(static_cast<std::size_t>(p - line.data()));
    const auto start = line.find_first_not_of(" \t");
    const auto rest = start == std::string_view::npos ? std::string_view{} : line.substr(start);
    const auto position = pgship::wal::parse_lsn(rest.substr(0, rest.find_first_of(" \t\r")));
    if (ec != std::errc() || parent == 0 || !position) {
      why = "a line of the history of timeline " + std::to_string(timeline) +
            " is not \"<timeline> <X/X> <reason>\"";
      return std::nullopt;
    }
    if (parent >= timeline ||
        (!out.ancestors.empty() &&
         (parent <= out.ancestors.back().timeline || *position < out.ancestors.back().ends_at))) {
      why = "the history of timeline " + std::to_string(timeline) + " does not ascend (timeline " +
            std::to_string(parent) + " at " + pgship::wal::format_lsn(*position) + ")";
      return std::nullopt;
    }
    out.ancestors.push_back({parent, *position});
  }
  return out;
}

}  // namespace pgship::agent::wal

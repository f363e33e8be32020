#include "state/wal_window.hpp"
#include <algorithm>

namespace pgship::receiver {
namespace {

namespace wal_wire = wire::wal;

// Whether [from, to) of `timeline` is inside one held range and crosses no recorded gap.
bool held(const window_input& in, wal::timeline_id timeline, wal::lsn from, wal::lsn to) {
  for (const auto& g : in.gaps)
    if (g.timeline == timeline && g.from < to && g.to > from) return false;
  if (from >= to) return true;
  const auto runs = in.ranges.find(timeline);
  if (runs == in.ranges.end()) return false;
  return std::any_of(runs->second.begin(), runs->second.end(),
                     [&](const wal_wire::lsn_range& r) { return r.from <= from && to <= r.to; });
}

// The timelines from `newest` back to `oldest` through the known switches, newest first;
// empty when `oldest` is not an ancestor.
std::vector<wal::timeline_id> path_back(const window_input& in, wal::timeline_id newest,
                                        wal::timeline_id oldest) {
  std::vector<wal::timeline_id> path{newest};
  while (path.back() != oldest) {
    const auto sw = in.switches.find(path.back());
    if (sw == in.switches.end() || sw->second.parent >= path.back()) return {};
    path.push_back(sw->second.parent);
  }
  return path;
}

}  // namespace

std::optional<wal_wire::archive_state::position> newest_run_end(const window_input& in) {
  for (auto t = in.ranges.rbegin(); t != in.ranges.rend(); ++t)
    if (!t->second.empty()) return wal_wire::archive_state::position{t->first, t->second.back().to};
  return std::nullopt;
}

bool reaches_newest(const window_input& in, const wal_wire::basebackup_mark& backup) {
  const auto end = newest_run_end(in);
  if (!end) return false;
  const auto path = path_back(in, end->timeline, backup.timeline);
  if (path.empty()) return false;
  // Walk from the backup's timeline forward: each timeline from where recovery enters it to
  // where it leaves it (its child's switch point, or the newest run's end).
  wal::lsn from = backup.start_lsn;
  for (auto t = path.rbegin(); t != path.rend(); ++t) {
    const bool last = std::next(t) == path.rend();
    const wal::lsn to = last ? end->at : in.switches.at(*std::next(t)).at;
    if (to < from || !held(in, *t, from, to)) return false;
    from = to;
  }
  return backup.stop_lsn <= end->at || end->timeline != backup.timeline;
}

std::optional<wal_wire::pitr_window> compute_window(const window_input& in) {
  const auto end = newest_run_end(in);
  if (!end) return std::nullopt;
  std::optional<std::int64_t> oldest;
  for (const auto& b : in.backups)
    if ((!oldest || b.stop_time_ms < *oldest) && reaches_newest(in, b)) oldest = b.stop_time_ms;
  if (!oldest) return std::nullopt;
  // The newest sample recovery can reach: on the newest timeline up to the run's end, or on
  // an ancestor before the switch that leads to it.
  std::optional<std::int64_t> newest;
  wal::timeline_id timeline = end->timeline;
  wal::lsn limit = end->at;
  while (true) {
    if (const auto s = in.samples.find(timeline); s != in.samples.end()) {
      for (const auto& sample : s->second)
        if (sample.position <= limit && (!newest || sample.unix_ms > *newest))
          newest = sample.unix_ms;
    }
    if (newest) break;
    const auto sw = in.switches.find(timeline);
    if (sw == in.switches.end() || sw->second.parent >= timeline) break;
    timeline = sw->second.parent;
    limit = sw->second.at;
  }
  // The backup's stop is reachable even when no later sample is held.
  return wal_wire::pitr_window{*oldest, std::max(*oldest, newest.value_or(*oldest))};
}

}  // namespace pgship::receiver

#include "wal/start_point.hpp"

namespace pgship::agent::wal {

namespace {

using pgship::wal::format_lsn;

std::string tli_text(timeline_id t) {
  return "timeline " + std::to_string(t);
}

}  // namespace

start_decision choose_start(const start_inputs& in) {
  const auto segment_start = [&](lsn at) { return at - at % in.segment_size; };
  start_decision out;
  const lsn kept_from = segment_start(in.slot_restart);
  if (!in.archived) {
    out.timeline = in.server.timeline_of(in.slot_restart);
    out.start = kept_from;
    return out;
  }
  timeline_id t = in.archived->timeline;
  lsn at = in.archived->at;
  if (!in.server.knows(t)) {
    out.conflict = "the archive's newest WAL is on " + tli_text(t) + ", which the server's " +
                   tli_text(in.server.timeline) +
                   " does not descend from: another history under the same system identifier";
    return out;
  }
  while (t != in.server.timeline) {
    const lsn ends = *in.server.end_of(t);
    if (at > ends) {
      // The archive's timeline went on past the point this server's history branched off it:
      // a point-in-time recovery (or a promotion) brought the server back to an earlier
      // moment. The old timeline's later WAL stays, under its own names, for recoveries along
      // it; this server's timelines go on from the branch.
      out.branched = "the archive holds WAL of " + tli_text(t) + " up to " + format_lsn(at) +
                     ", past " + format_lsn(ends) + " where this server's " +
                     tli_text(*in.server.after(t)) + " branched off it";
      t = *in.server.after(t);
      at = segment_start(ends);
      continue;
    }
    if (at < ends) break;
    t = *in.server.after(t);
    at = segment_start(ends);
  }
  if (t == in.server.timeline && at > in.server_end) {
    out.conflict = "the archive holds WAL of " + tli_text(t) + " up to " + format_lsn(at) +
                   ", beyond the server's " + format_lsn(in.server_end) +
                   ": another history under the same system identifier";
    return out;
  }
  if (at < kept_from) {
    const timeline_id resumed = in.server.timeline_of(in.slot_restart);
    out.gap = wal_gap_range{resumed, at, kept_from};
    t = resumed;
    at = kept_from;
  }
  out.timeline = t;
  out.start = at;
  return out;
}

}  // namespace pgship::agent::wal

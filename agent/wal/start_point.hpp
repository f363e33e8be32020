#pragma once
// Where a replication session starts (design §2.2 step 4), from what the archive holds, what
// the slot still keeps and the server's timeline history. Pure.
//
// The stream resumes at the archive's end E on its timeline while E lies before that
// timeline's switch point (the server streams the rest of the old timeline, then ends it);
// at the switch point, it resumes at the segment start of the switch on the next timeline
// (that timeline's copy of [segment start, switch) is the file recovery asks for). The slot
// keeps whole segments: a start before the segment of its restart_lsn is WAL the server no
// longer has, a gap from the resume point to that segment's start. An archive whose timeline
// goes on past the server's switch from it is a branch (the server was recovered to an earlier
// moment): the stream goes on from the switch, on the server's timeline. Only an archive whose
// newest timeline is none of the server's, or that holds the server's own timeline past the
// server's end, is another history.

#include <cstdint>
#include <optional>
#include <string>

#include <pgship/common/wire/wal.hpp>

#include "wal/timeline_history.hpp"

namespace pgship::agent::wal {

struct resume_point {
  timeline_id timeline = 0;
  lsn at = 0;
};

struct wal_gap_range {
  timeline_id timeline = 0;  // the timeline the stream resumes on
  lsn from = 0;              // the first byte missing (the archive's end)
  lsn to = 0;                // where streaming resumes
};

struct start_decision {
  timeline_id timeline = 0;
  lsn start = 0;
  std::optional<wal_gap_range> gap;
  /// Set when the archive and the server disagree (the start is meaningless then).
  std::string conflict;
  /// Set when the archive's timeline goes on past the server's switch from it (the server was
  /// recovered to an earlier moment): the stream goes on along the server's timelines.
  std::string branched;
};

struct start_inputs {
  timeline_history server;  // the server's timeline and its history
  lsn server_end = 0;       // IDENTIFY_SYSTEM's xlogpos
  std::uint64_t segment_size = 0;
  lsn slot_restart = 0;                  // the slot's restart_lsn
  std::optional<resume_point> archived;  // the newest WAL held or queued; nullopt: none
};

start_decision choose_start(const start_inputs& in);

}  // namespace pgship::agent::wal

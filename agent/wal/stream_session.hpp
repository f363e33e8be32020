#pragma once
// One replication connection of the WAL stream, from IDENTIFY_SYSTEM to the end of its COPY:
// the slot (created with RESERVE_WAL when missing), the start point (the receiver's durable
// end when the slot still holds it), START_REPLICATION, and one loop that drains the stream
// into the unit builder while the ship queue has room, seals units on their deadline, and
// tells the server what it received (write) and what the receiver made durable (flush, the
// only position the slot may release).
//
// Timelines: before any WAL of a timeline the archive lacks, its history file is fetched
// (TIMELINE_HISTORY) and queued; the start point follows the server's history
// (start_point.hpp); when the server ends a timeline inside the COPY, the session queues the
// next one's history and goes on at the segment start of the switch on the new timeline.
//
// Gaps: when the server no longer has WAL the archive needs (a lost slot, WAL removed before
// the start point), the gap is recorded on the receiver before streaming resumes where the
// server's WAL begins; a lost slot is dropped and created again (RESERVE_WAL).

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/stored_format.hpp>
#include <pgship/common/wire/wal.hpp>

#include "pg_connection.hpp"
#include "stage_error.hpp"
#include "wal/ship_queue.hpp"
#include "wal/start_point.hpp"

namespace pgship::agent::wal {

struct stream_config {
  pg_login login;  // REPLICATION_USER/PASSWORD on the agent's PostgreSQL host and port
  std::string slot = "pgship";
  /// A database for slot_watch's normal connection; empty: no watch.
  std::string watch_database;
  std::chrono::milliseconds ack_interval{1000};
  io::stored_format format;
  io::codec_settings codec;
};

/// Where the session's units go: kept by the supervisor across sessions, so what one session
/// queued is still shipped after a reconnect.
class unit_sink {
 public:
  virtual ~unit_sink() = default;
  /// Readies shipping for `system` and reads the receiver's state of its archive.
  virtual boost::asio::awaitable<stage_error> open(const std::string& system,
                                                   wire::wal::archive_state& state) = 0;
  /// Queues a unit (or a history file) behind the others.
  virtual void ship(sealed_unit unit) = 0;
  /// Whether the history file of `timeline` is stored on the receiver or queued for it.
  virtual bool holds_history(timeline_id timeline) const = 0;
  /// Records on the receiver that `gap` will never be archived (and tells whoever subscribed:
  /// a base backup is needed). An error: it was not recorded, the session must not go on.
  virtual boost::asio::awaitable<stage_error> record_gap(const wal_gap_range& gap,
                                                         std::string reason) = 0;
  /// The end of the last unit shipped (queued or acknowledged) for the open system.
  virtual ship_position tail() const = 0;
  virtual ship_queue& queue() = 0;
};

/// What the session shows the supervisor's status().
struct session_progress {
  bool streaming = false;  // in COPY
  std::string system_id;
  timeline_id timeline = 0;
  lsn server_lsn = 0;    // the newest walEnd the server reported
  lsn received_lsn = 0;  // past the last byte received
  std::chrono::steady_clock::time_point last_message;
  /// When the open unit's first byte came (it is not in the queue yet).
  std::optional<std::chrono::steady_clock::time_point> open_since;
};

class stream_session {
 public:
  using clock = std::chrono::steady_clock;

  stream_session(boost::asio::any_io_executor ex, const stream_config& config, unit_sink& sink,
                 session_progress& progress);
  ~stream_session();
  stream_session(const stream_session&) = delete;
  stream_session& operator=(const stream_session&) = delete;

  /// Runs the session to its end: an error says why it ended (the supervisor reconnects);
  /// none after stop(). Cancellation (terminal) ends it at once, for a stop before the COPY.
  boost::asio::awaitable<stage_error> run();
  /// A clean end: the open unit is sealed and shipped, the queue gets up to ~3 s to ship, a
  /// last status update goes out and the COPY is ended.
  void stop();
  /// Something the loop waits for happened (the queue's progress): look again now.
  void wake();
  /// In COPY: stop() ends the session cleanly.
  bool streaming() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pgship::agent::wal

#pragma once
// WAL_STREAM's supervisor, owned by the daemon: runs replication sessions one after the other
// (reconnecting with backoff 0.5 s doubling to 10 s), keeps the ship queue that outlives them
// (so what one session sealed is shipped after a reconnect), stops cleanly, and says how the
// stream is doing (status(): the /health verdict, the pgship_wal_* metrics, GET /api/v1/wal).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/stored_format.hpp>
#include <pgship/common/wire/wal.hpp>

#include "settings.hpp"
#include "stage_error.hpp"
#include "wal/ship_queue.hpp"
#include "wal/stream_session.hpp"

namespace pgship::agent::wal {

/// The WAL chain: zstd unless COMPRESSION=none (pg_dump, which compresses dumps itself, means
/// zstd here), age when ENCRYPT_RECIPIENTS are set.
io::stored_format wal_format(const settings& cfg);
/// ZSTD_LEVEL with no zstd workers (a unit is a second of WAL: threads would cost more than
/// they save), the recipients.
io::codec_settings wal_codec(const settings& cfg);
/// The session's settings from the agent's: REPLICATION_* on POSTGRES_HOST/PORT, WAL_*.
stream_config stream_config_of(const settings& cfg);

/// The receiver's WAL routes as the stream uses them: the agent's go through wal_api to
/// BACKUP_API_URL (receiver_of), a test's may keep units in memory.
struct wal_receiver {
  std::function<boost::asio::awaitable<stage_error>(std::string system,
                                                    wire::wal::archive_state& state)>
      get_state;
  /// Sends units of `system`; called only after get_state for the same system.
  std::function<ship_queue::sender(std::string system)> sender_for;
  /// Records a gap of `system` (POST gaps); unset: gaps are only logged and announced.
  std::function<boost::asio::awaitable<stage_error>(std::string system, wire::wal::gap_record gap)>
      post_gap;
};
wal_receiver receiver_of(boost::asio::any_io_executor ex, const settings& cfg);

struct wal_status {
  bool up = false;  // in COPY with the server
  std::string system_id;
  timeline_id timeline = 0;
  std::string slot;
  lsn server_lsn = 0;           // the server's newest end of WAL, as it last said
  lsn received_lsn = 0;         // past the last byte received
  lsn durable_lsn = 0;          // past the last byte the receiver made durable
  std::uint64_t lag_bytes = 0;  // server - durable
  double lag_seconds = 0;       // age of the oldest WAL not durable yet; 0 when caught up
  std::uint64_t segments_shipped = 0;
  std::uint64_t queued_bytes = 0;
  std::string last_error;
  /// Gaps this stream recorded since it started (the archive cannot be recovered across them).
  std::uint64_t gaps_recorded = 0;
  /// What slot_watch last read: WAL the slot keeps on the server (nullopt: not read yet, or
  /// the slot lost its WAL), its wal_status.
  std::optional<std::uint64_t> slot_retained_bytes;
  std::string slot_wal_status;
  /// How long the stream has been down (0 while up).
  std::chrono::seconds down_for{0};
};

class wal_stream {
 public:
  using clock = std::chrono::steady_clock;

  wal_stream(boost::asio::any_io_executor ex, stream_config config, wal_receiver receiver);
  ~wal_stream();
  wal_stream(const wal_stream&) = delete;
  wal_stream& operator=(const wal_stream&) = delete;

  /// Streams until stop(); the object must outlive it.
  boost::asio::awaitable<void> run();
  /// A clean stop: the session seals, gives the queue up to ~3 s, reports, ends its COPY.
  void stop();
  /// Returns once run() has returned, or after `limit`.
  boost::asio::awaitable<void> wait_stopped(std::chrono::milliseconds limit);
  /// Whether run() is still running (its coroutine refers to this object).
  bool running() const;

  wal_status status(clock::time_point now = clock::now()) const;

  /// Called (on the executor) once a gap is recorded on the receiver: WAL alone no longer
  /// recovers past it, a base backup is needed (the base-backup runner subscribes).
  using gap_callback = std::function<void(const std::string& system, const wire::wal::gap_record&)>;
  void on_gap(gap_callback callback);
  /// Called (on the executor) each time a session has read the receiver's state of the
  /// archive it streams into, before streaming: whether the archive has a complete base backup
  /// to recover from is the daemon's to act on.
  using archive_callback =
      std::function<void(const std::string& system, const wire::wal::archive_state& state)>;
  void on_archive_opened(archive_callback callback);

  /// The reconnect backoff: `first` doubling to `cap` (0.5 s and 10 s unless set).
  void set_backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap);
  /// Also sets the ship queue's retry backoff (tests shorten both).
  void set_ship_backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pgship::agent::wal

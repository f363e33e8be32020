#pragma once
// A base backup is complete only once the receiver's physical archive holds the WAL from its
// start to its stop position (DESIGN "Physical archive"): without that WAL the copied files
// are torn and recover to nothing. After the upload, the receiver's archive state
// (GET /api/wal/{system}) is asked until one of the timeline's ranges covers the backup's, or
// the deadline passes. After the pgship manifest, the completion mark is PUT; the receiver
// checks the same coverage itself, and only its 2xx makes the base backup complete.

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "net/wal_api.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// The WAL a base backup needs: [start, stop] of `timeline`.
struct wal_span {
  wal::timeline_id timeline = 0;
  wal::lsn start = 0;
  wal::lsn stop = 0;
};

/// Whether one range of `span`'s timeline in `state` holds every byte from start to stop.
bool archive_covers(const wire::wal::archive_state& state, const wal_span& span);

/// What `state` holds of `span`'s timeline, for the message of a backup left incomplete:
/// "timeline 1 holds 0/1000000-0/3000000" or "nothing of timeline 1".
std::string describe_holdings(const wire::wal::archive_state& state, wal::timeline_id timeline);

struct wal_wait_request {
  wal_span span;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  /// Asked again after 100 ms, doubling up to this: the stop point's WAL usually arrives
  /// within WAL_ACK_INTERVAL, and a fixed 2 s would add up to 2 s to every base backup.
  std::chrono::milliseconds poll{std::chrono::seconds(2)};
  std::function<bool()> stopping;
};

/// The completion mark's PUT (wal_api::put_mark), tried again on transport failures and 5xx
/// up to `attempts` times `delay` apart: ok once accepted; basebackup_incomplete when the
/// receiver refused it (409: it does not hold the backup or its WAL); the last failure else.
struct mark_request {
  wire::wal::basebackup_mark mark;
  int attempts = 4;
  std::chrono::milliseconds delay{std::chrono::seconds(2)};
  std::function<bool()> stopping;
};
boost::asio::awaitable<stage_error> mark_complete(wal_api& archive, const mark_request& request);

/// Asks until the archive covers the span: ok; basebackup_incomplete naming the positions and
/// what the receiver holds when the deadline passed; cancelled when stopping. A receiver that
/// cannot be asked for a while is asked again until the deadline.
boost::asio::awaitable<stage_error> wait_for_wal(wal_api& archive, const wal_wait_request& request);

}  // namespace pgship::agent

#pragma once
// wal-fetch's work as PostgreSQL's restore_command: one WAL file (a segment or a timeline's
// history) joined from the receiver's units into the path recovery asked for, all of them in
// one answer (GET bundles/{file}, pipeline/wal_bundle_writer.hpp). Each unit is decrypted and
// decompressed on its own and written at its offset; its stored and plain SHA-256 are checked
// against the receiver's record of them; the newest segment, when partial,
// is zero-padded to the segment size (as pg_receivewal's .partial files are), and recovery
// ends where its valid records end. The file appears at the path only whole (written beside
// it, then renamed).
//
// Prefetch: complete segments after the one asked for are fetched ahead, several at once, into
// PITR_SPOOL, by a process that goes on after the call returned (PostgreSQL replays meanwhile),
// and later calls take them from there (waiting for one still on its way); the spool is topped
// up once it holds fewer than half of `ahead`. Only complete segments are spooled: a partial
// one may still grow while recovery runs, and a stale copy would end recovery early.

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/log.hpp>

#include "net/wal_api.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct wal_fetch_request {
  std::string file;                            // what PostgreSQL asked for (%f)
  std::filesystem::path target;                // where it wants it (%p)
  std::optional<std::filesystem::path> spool;  // PITR_SPOOL; none: nothing fetched ahead
  int ahead = 16;                              // complete segments kept fetched ahead
  int parallel = 4;                            // requests in flight at once
  io::age_secrets secrets;                     // AGE_IDENTITY_FILE's, for an encrypted archive
  log::context log;
};

enum class wal_fetch_outcome { fetched, absent };

/// A connection of its own to the receiver's archive of the system (one per request in flight).
using wal_api_factory = std::function<std::unique_ptr<wal_api>()>;

/// Fetches request.file into request.target: `fetched`, or `absent` when the archive does not
/// have it (the only answer that lets recovery end). Fails with wal_gap, hash_mismatch (a unit
/// whose bytes are not the receiver's record of them, or do not decrypt or decompress),
/// receiver_* and local_io_failed. A file a running prefetch is bringing is waited for.
/// `ahead`: the complete segments after it the spool should be topped up with (empty while it
/// holds at least half of them, or without a spool).
boost::asio::awaitable<stage_error> fetch_wal(const wal_api_factory& open,
                                              const wal_fetch_request& request,
                                              wal_fetch_outcome& out,
                                              std::deque<std::string>& ahead);

/// The spool's prefetch lock, taken for a prefetch of `wanted` (listed in the lock file, so a
/// call for one of them waits for it): its descriptor, or -1 while another prefetch runs. The
/// prefetch holds it (a forked child inherits it) until it ends.
int claim_prefetch(const std::filesystem::path& spool, const std::deque<std::string>& wanted);

/// Fetches `wanted` into the spool, `parallel` at a time, under a lock claim_prefetch took.
/// wal-fetch runs it after PostgreSQL has its file, in a process of its own, so replay goes on
/// while it fetches.
boost::asio::awaitable<void> prefetch_wal(const wal_api_factory& open,
                                          const wal_fetch_request& request,
                                          std::deque<std::string> wanted);

/// Until no prefetch runs on `spool` (at most `limit`): before its directory goes.
boost::asio::awaitable<void> wait_prefetch_done(const std::filesystem::path& spool,
                                                std::chrono::milliseconds limit);

/// Whether PostgreSQL's `file` is one the archive keeps (a segment or a history file); the
/// others it asks for (a .partial, a .backup) are never archived.
bool is_archived_name(std::string_view file);

}  // namespace pgship::agent

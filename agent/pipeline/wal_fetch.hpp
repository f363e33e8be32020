#pragma once
// wal-fetch's work as PostgreSQL's restore_command: one WAL file (a segment or a timeline's
// history) joined from the receiver's units into the path recovery asked for. Each unit is
// decrypted and decompressed on its own and written at its offset; its stored and plain
// SHA-256 are checked against the receiver's record of them; the newest segment, when partial,
// is zero-padded to the segment size (as pg_receivewal's .partial files are), and recovery
// ends where its valid records end. The file appears at the path only whole (written beside
// it, then renamed).
//
// Prefetch: complete segments after the one asked for are fetched ahead, several at once, into
// PITR_SPOOL, and later calls take them from there; the spool is topped up once it holds fewer
// than half of `ahead`, so replay waits on one batch of parallel requests per few segments
// instead of one round trip per segment. Only complete segments are spooled: a partial one may
// still grow while recovery runs, and a stale copy would end recovery early.

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
/// receiver_* and local_io_failed.
boost::asio::awaitable<stage_error> fetch_wal(const wal_api_factory& open,
                                              const wal_fetch_request& request,
                                              wal_fetch_outcome& out);

/// Whether PostgreSQL's `file` is one the archive keeps (a segment or a history file); the
/// others it asks for (a .partial, a .backup) are never archived.
bool is_archived_name(std::string_view file);

}  // namespace pgship::agent

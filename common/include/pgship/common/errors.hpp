#pragma once
// The pgship error catalogue: one category, stable codes. The numeric value is also the
// process exit code of a one-shot command, and name() is the log field and the `reason`
// label on failure metrics, so neither may change once released.

#include <string_view>
#include <system_error>

#include <boost/system/error_code.hpp>

namespace pgship {

enum class errc : int {
  ok = 0,
  internal = 1,        // unexpected failure: a bug or an unforeseen environment
  config_invalid = 2,  // bad configuration or command line
  // Database side.
  database_unreachable = 10,
  database_auth_failed = 11,
  database_missing = 12,
  pg_dump_not_found = 13,
  pg_dump_version_mismatch = 14,
  dump_failed = 15,
  dump_too_small = 16,
  verify_failed = 17,
  restore_list_failed = 18,
  restore_failed = 19,
  // Receiver side.
  receiver_unreachable = 20,
  receiver_unhealthy = 21,
  receiver_auth_failed = 22,
  upload_rejected = 23,  // permanent 4xx from the receiver
  upload_failed = 24,    // retries exhausted
  hash_mismatch = 25,
  tls_failed = 26,
  // Local storage.
  local_io_failed = 30,
  disk_full = 31,
  rotate_failed = 32,
  // Run lifecycle.
  cancelled = 40,
  interrupted = 41,
  run_in_progress = 42,
  check_failed = 43,
  // Restore drills.
  drill_mismatch = 50,   // the restored database's tables or row counts differ from the dump's
  drill_refused = 51,    // the drill's scratch database is not one a drill may use
  restore_refused = 52,  // the target server cannot take this backup (an extension's version)
  // Physical archive.
  replication_unavailable = 60,  // no replication connection, slot or WAL stream
  wal_conflict = 61,             // the receiver holds other WAL under the same name (409)
  wal_gap = 62,                  // the archive misses WAL between two positions
  basebackup_incomplete = 63,    // the WAL up to a base backup's stop point is not durable
};

/// The category behind every pgship::errc. Thread-safe (stateless).
const boost::system::error_category& error_category() noexcept;

boost::system::error_code make_error_code(errc e) noexcept;

/// Stable snake_case name of a code ("dump_failed"); "unknown" for values not in the catalogue.
std::string_view error_name(errc e) noexcept;

/// Exit code for a result: 0 on success, the catalogue value for pgship errors, `internal`
/// for anything else (a system or library error that was not converted at its boundary).
int exit_code_for(const boost::system::error_code& ec) noexcept;

}  // namespace pgship

template <>
struct boost::system::is_error_code_enum<pgship::errc> : std::true_type {};

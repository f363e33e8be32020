#pragma once
// One database's dump into BACKUP_DIR/.partial, with the upload following it when there is
// one, TimescaleDB's jobs paused while pg_dump holds its locks and the row counts taken from
// pg_dump's snapshot; then its verify, and the commit of the backup and its manifest.

#include <filesystem>

#include <boost/asio/awaitable.hpp>

#include "pipeline/backup_context.hpp"
#include "pipeline/backup_prep.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// The "dump" and "verify" stages of `m` (named, started) written to `partial`, then its local
/// commit; `m` gains what they learnt (size, digests, counts, extensions, and where the upload
/// that followed the dump stands).
boost::asio::awaitable<stage_error> dump_verify_commit(backup_context& ctx,
                                                       const preflight_output& pre,
                                                       const std::filesystem::path& partial,
                                                       manifest& m);

}  // namespace pgship::agent

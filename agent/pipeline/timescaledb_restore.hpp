#pragma once
// TimescaleDB's documented logical restore, as restores and drills run it: the target server
// must offer the backup's exact extension version (and preload it); the extension is created
// at that version, timescaledb_pre_restore() stops its background workers and hooks, the
// archive is restored without its own CREATE EXTENSION entry, and timescaledb_post_restore()
// turns the database back on. For pg_restore -j, TimescaleDB's catalog (extension
// configuration tables joined by foreign keys) is loaded in one transaction before the
// parallel part, which would otherwise load it in an order its keys refuse.

#include <optional>
#include <string>
#include <string_view>

#include "pg_connection.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// Whether the server `admin` is on can restore a backup of TimescaleDB `version`: it offers
/// that exact version and has the library in shared_preload_libraries. The error names both
/// versions (or what is missing).
stage_error check_timescaledb_offered(pg_connection& admin, const std::string& version);

/// In the (new or empty) target database: CREATE EXTENSION at `version` (an extension already
/// there must be that version) and timescaledb_pre_restore().
stage_error prepare_timescaledb_target(const pg_login& target, const std::string& version);

/// timescaledb_post_restore(): the database's workers and jobs run again.
stage_error finish_timescaledb_target(const pg_login& target);

/// A drill's scratch copy kept for inspection (DRILL_KEEP): every job unscheduled, then
/// timescaledb_post_restore(), so it reads as TimescaleDB does in any session (compressed
/// chunks included) while its scheduler still has nothing to run.
stage_error release_kept_timescaledb_copy(const pg_login& target);

/// `pg_restore --list` of the archive, split for the restore: `all` without the extension's
/// own entries (CREATE EXTENSION and its comment); `first` all but the rows of tables outside
/// TimescaleDB's catalog, `_timescaledb_catalog` and `_timescaledb_config` (so with
/// --section=pre-data,data: the schema and the catalog's rows; chunks are rows like any other);
/// `second` all but the catalog's rows (with --section=data,post-data: what comes after).
struct timescaledb_toc {
  std::string all;
  std::string first;
  std::string second;
};
timescaledb_toc split_timescaledb_toc(std::string_view listing);

}  // namespace pgship::agent

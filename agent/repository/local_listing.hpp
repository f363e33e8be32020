#pragma once
// What BACKUP_DIR holds: the local backups of a database by kind (their upload state read from
// the manifests), the ones still waiting for the receiver, a summary for the metrics, and the
// bytes of them all.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/backup_name.hpp>

#include "repository/manifest.hpp"

namespace pgship::agent {

struct local_backup {
  std::string name;  // <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::chrono::system_clock::time_point taken;
  upload_state upload = upload_state::pending;
  /// Without a manifest nothing vouches for it (an old tool's dump not adopted): never
  /// rotated, and not counted against the keep rule.
  bool has_manifest = true;
};

/// The backups of `database` of one kind in `dir` (by file name; the manifest gives the upload
/// state): a database called `globals` and the globals backups are two separate sets.
std::vector<local_backup> list_local_backups(const std::filesystem::path& dir,
                                             std::string_view database,
                                             backup_kind kind = backup_kind::dump);

/// The manifests of the backups of `database` of `kind` whose upload is pending or failed,
/// oldest first: what the catch-up ships. One without a readable manifest is left out (its
/// checksum is unknown: left for a person).
std::vector<manifest> pending_uploads(const std::filesystem::path& dir, std::string_view database,
                                      backup_kind kind);

/// What BACKUP_DIR holds of one database, for the metrics (read from the manifests, so it is
/// right for one-shot runs and after restarts).
struct local_backup_summary {
  /// Backups whose upload is pending or failed (UPLOAD=on; 0 with UPLOAD=off).
  int unshipped = 0;
  /// The newest local backup, shipped or not.
  std::optional<std::chrono::system_clock::time_point> newest;
  /// The newest one on the receiver, or made with UPLOAD=off (its upload skipped).
  std::optional<std::chrono::system_clock::time_point> newest_shipped;
};

/// Summarises the backups of `database` in `dir` (those with a manifest).
local_backup_summary summarize_local_backups(const std::filesystem::path& dir,
                                             std::string_view database, bool upload);

/// Bytes of every local backup file in `dir` (dumps and their side files), all databases.
std::uint64_t local_backup_bytes(const std::filesystem::path& dir);

}  // namespace pgship::agent

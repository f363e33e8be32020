#pragma once
// Stage 4: local rotation. Keeps the KEEP_LOCAL_BACKUPS newest backups of a database (or the
// GFS set of BACKUP_KEEP_DAYS/WEEKS/MONTHS) and never deletes one whose upload has not
// succeeded, so a receiver outage cannot cost the only copy.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/retention.hpp>

#include "pipeline/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct local_backup {
  std::string name;  // <database>-<YYYYMMDD>-<HHMMSS>.dump
  std::chrono::system_clock::time_point taken;
  upload_state upload = upload_state::pending;
  /// Without a manifest nothing vouches for it (an old tool's dump not adopted): never
  /// rotated, and not counted against the keep rule.
  bool has_manifest = true;
};

struct rotation_rule {
  int keep_newest = 3;          // used when gfs is not enabled
  retention_policy gfs;         // BACKUP_KEEP_*
  bool upload_required = true;  // UPLOAD=on: pending/failed uploads are never deleted
};

/// The names to delete, sorted. Pure: the rule applied to one database's backups.
std::vector<std::string> select_rotation(const std::vector<local_backup>& backups,
                                         const rotation_rule& rule,
                                         std::chrono::system_clock::time_point now);

/// The backups of `database` of one kind in `dir` (by file name; the manifest gives the upload
/// state): a database called `globals` and the globals backups are two separate sets.
std::vector<local_backup> list_local_backups(const std::filesystem::path& dir,
                                             std::string_view database,
                                             backup_kind kind = backup_kind::dump);

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

struct rotate_output {
  std::vector<std::string> removed;
  int kept = 0;
  int kept_not_uploaded = 0;  // beyond the rule, kept because their upload has not succeeded
};

/// Applies the rule to the backups of `database` of `kind` in `dir`: removes the backup file,
/// its `.sha256` and its `.json`.
stage_error rotate_local(const std::filesystem::path& dir, std::string_view database,
                         backup_kind kind, const rotation_rule& rule,
                         std::chrono::system_clock::time_point now, rotate_output& out);

/// Removes files in `partial_dir` last modified before `before` (debris of crashed runs).
int remove_stale_partials(const std::filesystem::path& partial_dir,
                          std::filesystem::file_time_type before);

}  // namespace pgship::agent

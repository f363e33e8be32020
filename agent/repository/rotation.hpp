#pragma once
// Local rotation: keeps the KEEP_LOCAL_BACKUPS newest backups of a database (or the
// GFS set of BACKUP_KEEP_DAYS/WEEKS/MONTHS) and never deletes one whose upload has not
// succeeded, so a receiver outage cannot cost the only copy.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/retention.hpp>

#include "repository/local_listing.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct rotation_rule {
  int keep_newest = 3;          // used when gfs is not enabled
  retention_policy gfs;         // BACKUP_KEEP_*
  bool upload_required = true;  // UPLOAD=on: pending/failed uploads are never deleted
};

/// The names to delete, sorted. Pure: the rule applied to one database's backups.
std::vector<std::string> select_rotation(const std::vector<local_backup>& backups,
                                         const rotation_rule& rule,
                                         std::chrono::system_clock::time_point now);

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

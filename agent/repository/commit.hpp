#pragma once
// The local commit of a dumped (or archived) backup in BACKUP_DIR: its sha256 sidecar and its
// manifest first, then the rename out of .partial/, then the directory's fsync. A crash in
// between leaves sidecars without a backup, which nothing lists; a failure removes all of it.

#include <filesystem>

#include <pgship/common/log.hpp>

#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// disk_full or local_io_failed (with nothing of the backup left) when it cannot be stored.
stage_error commit_local_backup(const std::filesystem::path& dir,
                                const std::filesystem::path& partial, const manifest& m,
                                const log::context& lg);

}  // namespace pgship::agent

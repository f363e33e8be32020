#pragma once
// BACKUP_DIR as a run needs it: `.partial/` to write in, `.partial/.lock` held for the run,
// and everything the agent creates there owned by BACKUP_DIR's owner, whoever runs it. The
// old tool's config file is root's, so operators run `backup` by hand as root; files that
// root leaves behind must not lock the service user out of its next run.

#include <filesystem>
#include <string>

#include "stage_error.hpp"

namespace pgship::agent {

/// Creates BACKUP_DIR/.partial if needed and proves a file can be created and removed in it.
stage_error prepare_backup_dir(const std::filesystem::path& dir);

/// One run at a time per BACKUP_DIR, whoever starts it (the daemon, `backup` by hand): the
/// second would race the first's rotation and remove its partial file as debris.
class run_lock {
 public:
  run_lock() = default;
  run_lock(const run_lock&) = delete;
  run_lock& operator=(const run_lock&) = delete;
  ~run_lock();

  /// run_in_progress when another run holds it; local_io_failed when it cannot be opened.
  stage_error acquire(const std::filesystem::path& dir);

 private:
  int fd_ = -1;
};

/// Run as root on a BACKUP_DIR that another user owns: becomes that user (supplementary
/// groups, gid, uid, for good) so that everything the command creates is theirs, and root
/// never works inside a directory another user controls (no chown sweep a swapped symlink
/// could turn against /etc). Call before any thread starts. Returns the name (or uid) it
/// switched to; empty when nothing changed (not root, BACKUP_DIR missing or root's). Throws
/// std::system_error when the switch fails.
std::string become_backup_dir_owner(const std::filesystem::path& dir,
                                    const std::string& what = "BACKUP_DIR");

}  // namespace pgship::agent

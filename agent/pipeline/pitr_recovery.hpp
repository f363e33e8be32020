#pragma once
// A point-in-time recovery set up from the receiver, shared by `restore --pitr` and PITR
// drills: the newest complete base backup that ends before the target is unpacked into an
// empty directory through the chain (sha256, age, zstd, tar), PostgreSQL's pg_verifybackup
// checks every file against the backup's manifest, and the directory gets recovery.signal and
// the recovery settings (wal-fetch as restore_command, the target, timeline latest, promote).
// wal-fetch's settings and spool go in a side directory beside it, never in it, so a later
// base backup of the recovered cluster does not carry them. Whatever fails is undone.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/wire/wal.hpp>

#include "child_process.hpp"
#include "pg_tools.hpp"
#include "pipeline/pitr_plan.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// Where wal-fetch's settings and spool (and a started server's socket and log) go: beside
/// `dir`, named after it.
std::filesystem::path recovery_side_dir(const std::filesystem::path& dir);

/// Which archive: `given` (--system), PITR_SYSTEM, else the configured server's identifier.
stage_error archive_system(const settings& cfg, const std::string& given, std::string& out);

/// wal-fetch runs as this process's user: the key and certificate files its settings name
/// must be readable now, or recovery would stop at its first segment.
stage_error check_readable_by_wal_fetch(const settings& cfg);

struct recovery_request {
  std::string system;
  pitr_target target;
  std::filesystem::path dir;  // absent or empty; absolute
  std::shared_ptr<child_handle> child;
  std::function<void(std::string_view)> say;  // progress for people (may be empty)
  live_progress* progress = nullptr;          // fed with the base backup's download
};

struct recovery_prepared {
  wire::wal::basebackup_mark backup;  // the base backup it starts from
  pg_toolset tools;                   // of the backup's major version
  std::filesystem::path side;         // recovery_side_dir(dir)
  bool created = false;               // dir did not exist before
  /// Where the archive's WAL ended when the recovery was set up (timeline and position).
  std::optional<wire::wal::archive_state::position> archive_end;
};

/// Sets `request.dir` up to recover to the target; appends the download, unpack and verify
/// stages. On failure `dir` is left as it was (absent, or empty) and the side directory gone.
boost::asio::awaitable<stage_error> prepare_recovery(const settings& cfg,
                                                     const recovery_request& request,
                                                     std::vector<stage_record>& stages,
                                                     recovery_prepared& out);

/// Removes what prepare_recovery made: `dir` back to absent (when it made it) or empty, and
/// the side directory.
void undo_recovery(const std::filesystem::path& dir, bool created);

}  // namespace pgship::agent

#pragma once
// BACKUP_DIR_MIN_FREE: while the receiver is away, unshipped backups pile up in BACKUP_DIR and
// none may be rotated away. A dump that would fill the disk fails late and may starve the
// database host's other writers; refusing it up front, saying so, costs nothing that was not
// lost anyway.

#include <cstdint>
#include <filesystem>
#include <string_view>

#include <pgship/common/backup_name.hpp>

#include "stage_error.hpp"

namespace pgship::agent {

/// disk_full when BACKUP_DIR's file system has less than `min_free` bytes free plus the size of
/// the newest local backup of `database` of `kind` (what the next one will roughly need);
/// local_io_failed when the free space cannot be read.
stage_error check_local_room(const std::filesystem::path& dir, std::string_view database,
                             backup_kind kind, std::uint64_t min_free);

}  // namespace pgship::agent

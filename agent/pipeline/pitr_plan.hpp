#pragma once
// What `restore --pitr` recovers to, and from which base backup: the target as the operator
// wrote it, and the choice among the archive's complete base backups, refused with the window
// named when no backup can reach it. Pure: the archive's state comes from the receiver.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::agent {

struct pitr_target {
  enum class kind { latest, lsn, time };
  kind what = kind::latest;
  wal::lsn lsn = 0;
  std::int64_t unix_us = 0;  // kind::time, microseconds since the epoch (UTC)
  std::string text;          // as written
};

/// --at: "latest", an LSN ("0/16B3748"), or an RFC 3339 time with its offset
/// ("2026-03-01T12:00:00Z", "2026-03-01 13:00:00.250+01:00"). nullopt with `why`.
std::optional<pitr_target> parse_pitr_target(std::string_view text, std::string& why);

/// The base backup to start from: for `latest` the newest complete one; for a time the newest
/// whose stop time is at or before it; for an LSN the newest whose stop position is. A target
/// the archive cannot reach is refused, `why` naming the window: a time before the oldest
/// usable backup's end or after the newest WAL (the PITR window), an LSN before the oldest
/// backup's stop or past the archive's end, an archive with no complete base backup.
std::optional<wire::wal::basebackup_mark> choose_base_backup(const wire::wal::archive_state& state,
                                                             const pitr_target& target,
                                                             std::string& why);

/// The window as people read it: "2026-03-01T12:00:00.000Z to 2026-03-02T09:14:03.120Z".
std::string describe_window(const wire::wal::pitr_window& window);

/// The recovery settings restore --pitr appends to postgresql.auto.conf: the restore_command,
/// the target (none for latest), timeline latest, promote at the target.
std::string recovery_settings(const pitr_target& target, const std::string& restore_command);

}  // namespace pgship::agent

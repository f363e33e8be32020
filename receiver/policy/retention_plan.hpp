#pragma once
// What retention keeps of one client and why, as a pure plan: backups by GFS per kind and
// database (KEEP_DAYS/_WEEKS/_MONTHS), base backups and WAL by the point-in-time window
// (PITR_KEEP_DAYS). Every pass (after a commit, hourly, `pgship-receiver retention`) deletes
// what the plan says and `retention --dry-run` prints the same plan, so the dry run shows
// exactly what a pass then deletes.
//
// The PITR window of N days: every moment from now - N days on must stay recoverable. Per
// system the anchor is the newest complete base backup (stored, with its completion mark) that
// stopped at or before the window's start (none stopped that early: the oldest complete one);
// the anchor and every newer base backup stay, and so does all WAL from the lowest start
// segment among them on, whatever its timeline, and every segment of a timeline after the
// anchor's (a branch whose base backup may still be on its way). A base backup older than the
// anchor that GFS keeps keeps the segments from its start to its stop, so it still becomes
// consistent. WAL is deleted only by the window: without PITR_KEEP_DAYS, or without a complete
// base backup, all of it stays.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/retention.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::receiver {

struct retention_settings {
  retention_policy gfs;
  std::optional<int> pitr_keep_days;
};

/// A stored backup as retention sees it.
struct retained_backup {
  std::string id;
  std::string database;
  backup_kind kind = backup_kind::dump;
  std::chrono::system_clock::time_point taken{};
};

/// One system of the client's physical archive.
struct retained_system {
  std::string system;
  std::uint64_t segment_size = 0;
  std::vector<std::string> segments;  // segment directory names (24 hex digits)
  std::vector<wire::wal::basebackup_mark> marks;
  std::vector<wire::wal::gap_record> gaps;
};

/// What the client holds. Marks are listed before backups: a mark whose backup is not in the
/// later listing is one whose backup is gone.
struct client_holdings {
  std::string client;
  std::vector<retained_backup> backups;
  std::vector<retained_system> systems;
};

/// A backup's or a segment's verdict: the rules that keep it, in words; none means it goes.
struct retention_item_verdict {
  std::string name;
  std::vector<std::string> kept_by;
  bool deleted() const { return kept_by.empty(); }
};

struct system_retention_plan {
  std::string system;
  std::uint64_t segment_size = 0;
  /// The base backup the window's WAL starts at, and that start; nullopt: no WAL goes.
  std::optional<std::string> anchor;
  std::optional<wal::lsn> kept_from;
  std::string why_all_wal_kept;                     // when anchor is nullopt
  std::vector<retention_item_verdict> segments;     // by name
  std::vector<std::string> marks_deleted;           // backup ids whose backup is or goes away
  std::vector<wire::wal::gap_record> gaps_deleted;  // wholly inside deleted WAL
};

struct client_retention_plan {
  std::string client;
  std::vector<retention_item_verdict> backups;  // by kind and database, newest first
  std::vector<system_retention_plan> systems;
};

client_retention_plan plan_retention(const client_holdings& holdings,
                                     const retention_settings& rules,
                                     std::chrono::system_clock::time_point now);

}  // namespace pgship::receiver

#pragma once
// The one-shot commands an operator runs by hand. Each returns the process exit code: 0, or
// the catalogue code of what failed.

#include <functional>
#include <string>
#include <vector>

#include "pipeline/progress_watch.hpp"
#include "settings.hpp"

namespace pgship::agent {

struct backup_options {
  std::vector<std::string> databases;  // empty: POSTGRES_DB
  progress_mode progress = progress_mode::never;
};
int command_backup(const settings& cfg, const backup_options& opts);

/// One physical base backup now (README "Base backups").
int command_basebackup(const settings& cfg, progress_mode progress);

int command_check(const settings& cfg);

/// The daemon: scheduler, control API, metrics; returns 0 after SIGTERM/SIGINT. On SIGHUP
/// `reload` reads the configuration again (it throws config_error for a bad one, which is
/// logged while the old settings stay).
int command_run(const settings& cfg, std::function<settings()> reload);
/// Exit 0 when the running daemon's /health answers 200.
int command_healthcheck(const settings& cfg);

struct list_options {
  std::string database;
  bool json = false;
  std::string at;  // the dump of each database that restore --at would take
};
int command_list(const settings& cfg, const list_options& opts);

struct restore_options {
  std::string id;       // or latest
  bool latest = false;  // the newest backup (of `database` when given)
  std::string at;       // or the newest dump taken at or before this time (of `database`)
  std::string database;
  std::string target_db;
  bool create = false;
  bool clean = false;
  bool no_owner = false;
  /// pg_restore -j: parallel over the downloaded file. Above 1 the restore is no longer one
  /// transaction (pg_restore cannot combine the two): a failure leaves what was restored.
  int jobs = 1;
  /// The cluster's roles and tablespaces (GLOBALS) instead of a database: the newest globals
  /// backup, or `id`, applied to the target server.
  bool globals = false;
  progress_mode progress = progress_mode::never;
};
int command_restore(const settings& cfg, const restore_options& opts);
int command_restore_globals(const settings& cfg, const restore_options& opts);

struct pitr_restore_options {
  std::string at;          // latest, an LSN or an RFC 3339 time with its offset
  std::string target_dir;  // empty or new
  std::string system;      // the archive; default PITR_SYSTEM, else the server's
  bool start = false;      // start PostgreSQL on it and wait until recovery reached `at`
  progress_mode progress = progress_mode::never;
};
/// restore --pitr: a base backup unpacked and checked into target_dir, set up to recover to
/// `at` with wal-fetch (commands/restore_pitr.cpp).
int command_restore_pitr(const settings& cfg, const pitr_restore_options& opts);

struct drill_options {
  std::string database;  // empty: every database of POSTGRES_DB
  std::string id;        // a backup instead of the newest
  int jobs = 1;
  progress_mode progress = progress_mode::never;
};
int command_drill(const settings& cfg, const drill_options& opts);
/// drill --pitr [--at TARGET]: one point-in-time recovery drill now (drill/pitr_drill.hpp).
int command_pitr_drill(const settings& cfg, const std::string& at, progress_mode progress);

struct wal_options {
  bool json = false;
  std::string system;  // wal verify: this system identifier's archive instead of the server's
};
/// The WAL stream: the daemon's view (GET /api/v1/wal), else PostgreSQL's and the receiver's.
int command_wal_status(const settings& cfg, const wal_options& opts);
/// Continuity of the receiver's archive per timeline: 0, or wal_gap naming each hole.
int command_wal_verify(const settings& cfg, const wal_options& opts);
/// Drops WAL_SLOT (decommissioning); run_in_progress while a stream holds it.
int command_wal_drop_slot(const settings& cfg);

struct wal_fetch_options {
  std::string file;  // %f: the segment or history file recovery wants
  std::string path;  // %p: where it wants it
};
/// PostgreSQL's restore_command: 0 (the file is at path), 1 (the archive does not have it), or
/// an error's code (main turns every one into 126, which stops recovery).
int command_wal_fetch(const settings& cfg, const wal_fetch_options& opts);

}  // namespace pgship::agent

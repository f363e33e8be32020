#pragma once
// A point-in-time recovery drill (`drill --pitr [--at TARGET]`, PITR_DRILL_SCHEDULE): base
// backup plus WAL recovered from the receiver to the target into a scratch data directory
// (BACKUP_DIR/.pitr-drill/pgdata), a scratch PostgreSQL started on it on a free loopback port
// with no background job that writes (autovacuum, TimescaleDB's scheduler, archiving off),
// waited for until recovery reached the target, then every B-tree index and every table of
// each database in POSTGRES_DB checked with amcheck (bt_index_check with heapallindexed,
// verify_heapam) and every table counted. The point it recovered to and the seconds until the
// server was writable (the measured RTO) go into the record. The server is stopped and the
// directory removed always: after a failure, a stop request, and at the next drill after a
// crash.

#include <filesystem>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

struct pitr_drill_request {
  std::string run_id;  // empty: a new one
  std::string trigger = "manual";
  /// latest, random (a moment inside the PITR window), an LSN or an RFC 3339 time.
  std::string at = "latest";
};

/// The scratch data directory a PITR drill recovers into.
std::filesystem::path pitr_drill_dir(const settings& cfg);

/// Why PITR drills cannot run here, or "": the server binaries (postgres, pg_ctl,
/// pg_verifybackup beside the newest pg_dump) are missing, or this process is root (PostgreSQL
/// refuses to run as root). PITR_DRILL_SCHEDULE stops start-up with it.
std::string pitr_drill_unable(const settings& cfg);

/// Runs to the end and returns the record (kind "pitr_drill", one entry "pgdata"); failures
/// are in the record, never thrown.
boost::asio::awaitable<run_record> run_pitr_drill(const settings& cfg,
                                                  const pitr_drill_request& request,
                                                  run_control& control);

}  // namespace pgship::agent

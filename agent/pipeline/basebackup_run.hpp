#pragma once
// One physical base backup as a job (the one-shot `basebackup` command, the daemon's
// POST /api/v1/basebackups and BASEBACKUP_SCHEDULE): BACKUP_DIR locked like any run, the
// cluster's identity and WAL geometry read, pg_basebackup streamed through the chain into the
// receiver (pipeline/basebackup_stream), then the receiver's archive asked until it holds the
// WAL up to the backup's stop position (pipeline/basebackup_wal_wait), and only then the
// pgship manifest uploaded beside it and the run ok. Without that WAL the run fails with
// basebackup_incomplete naming the positions.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "settings.hpp"

namespace pgship::agent {

struct basebackup_request {
  std::string run_id;  // empty: a new one
  std::string trigger = "manual";
};

/// Runs to the end and returns the record (kind "basebackup", one entry "pgdata"); failures
/// are in the record, never thrown.
boost::asio::awaitable<run_record> run_basebackup(const settings& cfg,
                                                  const basebackup_request& request,
                                                  run_control& control);

}  // namespace pgship::agent

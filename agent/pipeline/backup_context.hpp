#pragma once
// What every step of one backup (a database, the globals, an ARCHIVE_DIRS directory) works
// with: the settings, the run's control and its record of this backup, the receiver client and
// whether it takes uploads this run, and the upload that follows the dump while it runs.

#include <map>
#include <memory>
#include <string>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/log.hpp>

#include "net/http_client.hpp"
#include "pg_tools.hpp"
#include "pipeline/backup_run.hpp"
#include "pipeline/run_control.hpp"
#include "pipeline/run_record.hpp"
#include "pipeline/stream_upload.hpp"
#include "repository/manifest_builder.hpp"
#include "settings.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct backup_context {
  backup_context(const settings& cfg, const run_request& request, run_control& control,
                 const std::string& run_id, http_client* client, const stage_error& upload_blocked,
                 std::map<int, pg_toolset>& tools_by_major, database_run& run);

  /// Starts the stage `name` of this backup: in the live progress and, once done, the record.
  stage_clock start_stage(const char* name, std::uint64_t expected_bytes = 0);
  /// A database, an ARCHIVE_DIRS directory and the globals may share a name, never a kind.
  backup_kind kind() const;
  /// The start of this backup's manifest, named `name`: of this database, run and host,
  /// started now, and waiting for the receiver when UPLOAD is set.
  manifest_start start_manifest(std::string name) const;

  const settings& cfg;
  const run_request& request;
  run_control& control;
  const std::string& run_id;
  http_client* client;
  const stage_error& upload_blocked;  // why this run cannot upload; empty when it can
  std::map<int, pg_toolset>& tools_by_major;
  database_run& run;
  // BACKUP_API_URL as manifests record it (they are logged and shipped): no password in it.
  const std::string receiver;
  log::context log;
  std::unique_ptr<follow_upload> follower;  // the upload running while this backup dumps
};

}  // namespace pgship::agent

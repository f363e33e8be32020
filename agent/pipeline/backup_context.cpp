#include "pipeline/backup_context.hpp"
#include <chrono>

#include <pgship/common/host_name.hpp>
#include <pgship/common/redact_url.hpp>

#include "pipeline/backup_prep.hpp"

namespace pgship::agent {

backup_context::backup_context(const settings& config, const run_request& req, run_control& ctl,
                               const std::string& id, http_client* http, const stage_error& blocked,
                               std::map<int, pg_toolset>& tools, database_run& record)
    : cfg(config),
      request(req),
      control(ctl),
      run_id(id),
      client(http),
      upload_blocked(blocked),
      tools_by_major(tools),
      run(record),
      receiver(redact_url(config.backup_api_url)),
      log{{"run_id", id}, {"database", record.database}} {}

stage_clock backup_context::start_stage(const char* name, std::uint64_t expected_bytes) {
  control.progress.begin(run.database, name, expected_bytes);
  return stage_clock(run.stages, name);
}

backup_kind backup_context::kind() const {
  if (run.globals) return backup_kind::globals;
  return run.archive ? backup_kind::archive : backup_kind::dump;
}

manifest_start backup_context::start_manifest(std::string name) const {
  manifest_start start;
  start.name = std::move(name);
  start.database = run.database;
  start.run_id = run_id;
  start.agent_host = host_name();
  start.started = std::chrono::system_clock::now();
  if (cfg.upload) start.receiver = receiver;
  return start;
}

}  // namespace pgship::agent

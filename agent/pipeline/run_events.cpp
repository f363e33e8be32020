#include "pipeline/run_events.hpp"

#include <pgship/common/errors.hpp>

namespace pgship::agent {

namespace {

// PITR drills are drills: one drill.failed alert whichever kind failed.
std::string event_kind(const run_record& run) {
  if (run.kind == "drill" || run.kind == "pitr_drill") return "drill";
  if (run.kind == "basebackup") return "basebackup";
  return "backup";
}

void put_error(events::event& e, const stage_error& error) {
  e.error_code = std::string(error_name(static_cast<errc>(error.code.value())));
  e.exit_code = error.code.value();
  e.message = error.message;
}

}  // namespace

std::vector<events::event> events_of(const run_record& run) {
  std::vector<events::event> out;
  const auto kind = event_kind(run);
  for (const auto& d : run.databases) {
    if (d.error && !counts_as_backup_result(d.error)) continue;
    auto e = events::make_event(kind + (d.error ? ".failed" : ".succeeded"), "agent");
    e.database = d.database;
    e.run_id = run.run_id;
    e.result = std::string(result_name(d.error));
    if (d.error) put_error(e, d.error);
    e.backup = d.backup;
    if (d.size > 0) e.size_bytes = d.size;
    double seconds = 0;
    for (const auto& s : d.stages)
      seconds += s.seconds;
    e.duration_seconds = seconds;
    if (d.archive) e.details["kind"] = "archive";
    if (d.globals) e.details["kind"] = "globals";
    if (kind == "backup" && !d.archive && !d.globals) {
      e.details["uploaded"] = d.uploaded;
      if (d.database_size > 0) e.details["database_size"] = d.database_size;
    }
    if (d.drill) {
      const auto& r = *d.drill;
      e.details["kind"] = run.kind == "pitr_drill" ? "pitr" : "logical";
      e.details["tables"] = r.tables;
      e.details["rows"] = r.rows;
      e.details["mismatches"] = r.mismatches.size();
      e.details["recovery_seconds"] = r.recovery_seconds;
      if (!r.target.empty()) e.details["target"] = r.target;
      e.recovered_to = r.recovered_to;
    } else if (run.kind == "pitr_drill") {
      e.details["kind"] = "pitr";
    }
    out.push_back(std::move(e));
  }
  if (run.databases.empty() && run.error && counts_as_backup_result(run.error)) {
    auto e = events::make_event(kind + ".failed", "agent");
    e.run_id = run.run_id;
    e.result = std::string(result_name(run.error));
    put_error(e, run.error);
    e.duration_seconds = run.seconds();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pgship::agent

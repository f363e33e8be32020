// `pgship-agent drill`: one restore drill now, from the receiver's copy into the scratch
// database, with the rows compared against the dump's own counts (see drill/drill_run.hpp).

#include <algorithm>
#include <functional>
#include <iostream>

#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "drill/drill_run.hpp"
#include "drill/pitr_drill.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// A drill job run as a command: its record into the run history and the metrics textfile.
int run_as_command(const settings& cfg, run_control& control, progress_mode progress,
                   std::function<net::awaitable<run_record>()> job, run_record& record) {
  const int code = run_command(
      [&]() -> net::awaitable<int> {
        record = co_await watched_run(job, control, progress, "drill");
        co_await announce_run(cfg, record);
        co_return exit_code_for(record.error.code);
      },
      [&control] { control.request_stop(); });
  add_to_run_history(cfg, record);
  write_run_metrics(cfg, record);
  return code;
}

// An entry that failed (or was kept from running), `what` naming it.
void print_failed(const database_run& d, const std::string& what) {
  std::cout << fmt::format("{:<8}{}  {}: {}\n",
                           counts_as_backup_result(d.error) ? "FAILED" : "NOT RUN", what,
                           error_name(static_cast<errc>(d.error.code.value())), d.error.message);
}

// A run that failed before any entry.
void print_run_failed(const run_record& record) {
  if (!record.error || !record.databases.empty()) return;
  std::cout << fmt::format("FAILED  {}: {}\n",
                           error_name(static_cast<errc>(record.error.code.value())),
                           record.error.message);
}

}  // namespace

int command_drill(const settings& cfg, const drill_options& opts) {
  if (!opts.database.empty() &&
      std::find(cfg.databases.begin(), cfg.databases.end(), opts.database) == cfg.databases.end()) {
    std::cerr << "pgship-agent: --database " << opts.database << " is not one of POSTGRES_DB\n";
    return static_cast<int>(errc::config_invalid);
  }
  if (const int bad = check_id_and_jobs(opts.id, opts.jobs)) return bad;
  run_control control;
  drill_request request;
  request.trigger = "manual";
  if (!opts.database.empty()) request.databases = {opts.database};
  request.backup_id = opts.id;
  request.jobs = opts.jobs;
  run_record record;
  const int code = run_as_command(
      cfg, control, opts.progress, [&] { return run_drill(cfg, request, control); }, record);
  for (const auto& d : record.databases) {
    if (d.error) {
      print_failed(d, d.database);
      continue;
    }
    const auto& r = d.drill.value();
    const std::string checked = r.row_counts.empty()
                                    ? r.note
                                    : fmt::format("{} tables, {} rows, as the backup counted ({})",
                                                  r.tables, r.rows, r.row_counts);
    std::cout << fmt::format("ok      {}  {}  restored in {:.1f} s into {}{}; {}\n", d.database,
                             d.backup, r.recovery_seconds, r.scratch_database,
                             r.kept ? " (kept)" : " (dropped)", checked);
  }
  print_run_failed(record);
  return code;
}

int command_pitr_drill(const settings& cfg, const std::string& at, progress_mode progress) {
  if (const auto why = pitr_drill_unable(cfg); !why.empty()) {
    std::cerr << "pgship-agent: drill --pitr cannot run here: " << why << "\n";
    return static_cast<int>(errc::config_invalid);
  }
  run_control control;
  pitr_drill_request request;
  request.at = at;
  run_record record;
  const int code = run_as_command(
      cfg, control, progress, [&] { return run_pitr_drill(cfg, request, control); }, record);
  for (const auto& d : record.databases) {
    if (d.error) {
      print_failed(d, "PITR drill");
      continue;
    }
    const auto& r = d.drill.value();
    std::cout << fmt::format(
        "ok      PITR drill  {} to {}: writable in {:.1f} s ({}); {} indexes and every table "
        "checked by amcheck; {}\n",
        d.backup, r.target, r.recovery_seconds,
        r.recovered_to.empty() ? "PostgreSQL named no point" : r.recovered_to, r.indexes_checked,
        r.note);
  }
  print_run_failed(record);
  return code;
}

}  // namespace pgship::agent

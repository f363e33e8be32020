#include <algorithm>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "pipeline/backup_run.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

// Dumped, verified and committed in BACKUP_DIR, whatever happened to the upload after.
bool kept_locally(const database_run& d) {
  const bool verified = std::any_of(d.stages.begin(), d.stages.end(),
                                    [](const auto& s) { return s.name == "verify" && s.ok; });
  const bool upload_failed = std::any_of(d.stages.begin(), d.stages.end(),
                                         [](const auto& s) { return s.name == "upload" && !s.ok; });
  return verified && upload_failed && !d.backup.empty();
}

}  // namespace

int command_backup(const settings& cfg, const backup_options& opts) {
  for (const auto& db : opts.databases) {
    if (std::find(cfg.databases.begin(), cfg.databases.end(), db) == cfg.databases.end()) {
      std::cerr << "pgship-agent: --database " << db << " is not one of POSTGRES_DB\n";
      return static_cast<int>(errc::config_invalid);
    }
  }
  run_control control;
  run_request request;
  request.trigger = "manual";
  request.databases = opts.databases;
  run_record record;
  const int code = run_command(
      [&]() -> net::awaitable<int> {
        const std::function<net::awaitable<run_record>()> job = [&] {
          return run_backup(cfg, request, control);
        };
        record = co_await watched_run(job, control, opts.progress, "backup");
        co_await announce_run(cfg, record);
        co_return exit_code_for(record.error.code);
      },
      [&control] { control.request_stop(); });

  // `ok` only for a database whose dump was made and verified: a run refused before it
  // (another run holds the lock, BACKUP_DIR unwritable, receiver down) backed nothing up.
  bool reason_shown = false;
  for (const auto& d : record.databases) {
    if (d.error) {
      // Skipped (another run holds BACKUP_DIR) or cancelled: nothing failed, nothing was made.
      std::cout << fmt::format(
          "{:<8}{}  {}: {}\n", counts_as_backup_result(d.error) ? "FAILED" : "NOT RUN", d.database,
          error_name(static_cast<errc>(d.error.code.value())), d.error.message);
      // The backup was made and is kept: only its shipping failed (a later run ships it).
      if (kept_locally(d)) {
        std::cout << fmt::format("{:<8}{}  kept locally as {}, not uploaded\n", "", d.database,
                                 d.backup);
      }
      reason_shown = reason_shown || d.error.code == record.error.code;
      continue;
    }
    const bool verified = std::any_of(d.stages.begin(), d.stages.end(),
                                      [](const auto& s) { return s.name == "verify" && s.ok; });
    if (!verified) {
      std::cout << fmt::format("{:<8}{}  no backup made\n", "NOT RUN", d.database);
      continue;
    }
    const std::string where = d.uploaded ? fmt::format("uploaded ({} retries, {} resumes)",
                                                       d.upload.retries, d.upload.resumes)
                                         : std::string("kept locally (UPLOAD=off)");
    std::cout << fmt::format("ok      {}  {}  {:.1f} MiB  {}\n", d.database, d.backup,
                             static_cast<double>(d.size) / 1048576.0, where);
  }
  add_to_run_history(cfg, record);
  write_run_metrics(cfg, record);
  if (record.error && !reason_shown) {
    std::cout << fmt::format("FAILED  run refused: {}: {}\n",
                             error_name(static_cast<errc>(record.error.code.value())),
                             record.error.message);
  }
  return code;
}

}  // namespace pgship::agent

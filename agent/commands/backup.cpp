#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "pipeline/backup_run.hpp"

namespace pgship::agent {

namespace net = boost::asio;

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
        record = co_await run_backup(cfg, request, control);
        co_return exit_code_for(record.error.code);
      },
      [&control] { control.request_stop(); });

  for (const auto& d : record.databases) {
    if (d.error) {
      std::cout << fmt::format("FAILED  {}  {}: {}\n", d.database,
                               error_name(static_cast<errc>(d.error.code.value())),
                               d.error.message);
      continue;
    }
    const std::string where = d.uploaded ? fmt::format("uploaded ({} retries, {} resumes)",
                                                       d.upload.retries, d.upload.resumes)
                                         : std::string("kept locally (UPLOAD=off)");
    std::cout << fmt::format("ok      {}  {}  {:.1f} MiB  {}\n", d.database, d.backup,
                             static_cast<double>(d.size) / 1048576.0, where);
  }
  if (record.databases.empty() && record.error) {
    std::cout << "FAILED  " << record.error.message << "\n";
  }
  return code;
}

}  // namespace pgship::agent

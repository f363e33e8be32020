#include <iostream>

#include <fmt/format.h>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "pipeline/basebackup_run.hpp"

namespace pgship::agent {

namespace net = boost::asio;

// Runs here, as a job holding BACKUP_DIR; the WAL that completes it comes from a daemon with
// WAL_STREAM=on streaming the same cluster to the same receiver.
int command_basebackup(const settings& cfg) {
  run_control control;
  basebackup_request request;
  request.trigger = "manual";
  run_record record;
  const int code = run_command(
      [&]() -> net::awaitable<int> {
        record = co_await run_basebackup(cfg, request, control);
        co_return exit_code_for(record.error.code);
      },
      [&control] { control.request_stop(); });
  for (const auto& d : record.databases) {
    if (d.error) {
      std::cout << fmt::format(
          "{:<8}{}  {}: {}\n", counts_as_backup_result(d.error) ? "FAILED" : "NOT RUN",
          d.backup.empty() ? d.database : d.backup,
          error_name(static_cast<errc>(d.error.code.value())), d.error.message);
      continue;
    }
    std::cout << fmt::format("ok      {}  {:.1f} MiB  uploaded, WAL to its stop point held\n",
                             d.backup, static_cast<double>(d.size) / 1048576.0);
  }
  add_to_run_history(cfg, record);
  write_run_metrics(cfg, record);
  return code;
}

}  // namespace pgship::agent

#pragma once
// Runs a child process to completion, capturing stdout and stderr, killing it (and its
// process group) when it overruns its time. Built on Boost.Process v2, as the agent is.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgship::test {

struct process_result {
  int exit_code = -1;  // 128+signal when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0 && !timed_out; }
  /// "exit 3: <stderr>" for assertion messages.
  std::string describe() const;
};

struct process_options {
  /// Variables added to (or replacing those of) this process's environment.
  std::map<std::string, std::string> env;
  std::optional<std::string> stdin_data;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::optional<std::filesystem::path> cwd;
};

/// This process's environment with `extra` on top, as sorted KEY=VALUE strings.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra);

/// Runs `argv[0]` (searched on PATH when it has no '/') with the rest as arguments.
process_result run_process(const std::vector<std::string>& argv,
                           const process_options& options = {});

/// Polls `done` every 100 ms until it is true or `limit` has passed; returns its last answer.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

}  // namespace pgship::test

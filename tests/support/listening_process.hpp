#pragma once
// Starting one of our servers as a child process and finding its port: it prints
// "listening on ADDR:PORT" on stdout once it serves (PORT=0 lets the OS pick), its stderr
// (the log) goes to a file. Used by the receiver and agent daemon fixtures.

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pgship::test {

struct started_process {
  int pid = -1;
  unsigned short port = 0;
};

/// Starts `binary args...` with `env` on top of this process's environment. Throws with the
/// log's content when it does not print its port within 20 s.
started_process start_listening_process(const std::string& binary,
                                        const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env,
                                        const std::filesystem::path& log_file);

/// Sends `signal`, waits up to `wait` (then SIGKILL); the exit status (128+sig if killed).
int stop_process(int pid, int signal, std::chrono::milliseconds wait);

}  // namespace pgship::test

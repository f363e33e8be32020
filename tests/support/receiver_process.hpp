#pragma once
// A real pgship-receiver process for integration tests: started with a fresh STORAGE_DIR (or
// a given one, to test restarts), on 127.0.0.1 with PORT=0; the port is read from its stdout.
// Its stderr (the log) is kept in a file and shown when a test fails.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "temp_dir.hpp"

namespace pgship::test {

class receiver_process {
 public:
  /// Starts the receiver with `env` added to the defaults (STORAGE_DIR in a temp dir,
  /// PORT=0, LISTEN_ADDR=127.0.0.1, MIN_FREE_BYTES=1M). Throws if it does not come up.
  explicit receiver_process(std::map<std::string, std::string> env = {});
  ~receiver_process();
  receiver_process(const receiver_process&) = delete;
  receiver_process& operator=(const receiver_process&) = delete;

  unsigned short port() const { return port_; }
  std::string url(std::string_view path = "") const;
  const std::filesystem::path& storage_dir() const { return storage_dir_; }
  std::string log() const;

  /// Sends `signal`, waits for exit (up to `wait`), returns the exit status (128+sig if killed).
  int stop(int signal = 15, std::chrono::milliseconds wait = std::chrono::seconds(15));
  /// Starts again with the same storage and environment (a new port).
  void restart();
  bool running() const { return pid_ > 0; }
  int pid() const { return pid_; }

 private:
  void start();

  std::unique_ptr<temp_dir> dir_;
  std::map<std::string, std::string> env_;
  std::filesystem::path storage_dir_;
  int pid_ = -1;
  unsigned short port_ = 0;
  int starts_ = 0;
};

/// The binary under test (set by CMake).
std::string receiver_binary();

}  // namespace pgship::test

#pragma once
// How a caller (a signal handler, the daemon's shutdown) stops a run in progress: the flag is
// checked between stages and upload chunks, the running child process is killed and a
// blocking query cancelled.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace pgship::agent {

/// What the run is doing right now, for GET /api/v1/runs/{id} while it runs. Written and read
/// on the run's executor.
struct live_progress {
  std::string database;
  std::string stage;
  std::uint64_t bytes = 0;
  /// What `bytes` is expected to reach (the database's size when dumping, the stored size
  /// when downloading), for an ETA; 0 when unknown.
  std::uint64_t total = 0;
  std::chrono::steady_clock::time_point stage_started;

  void begin(std::string db, std::string name, std::uint64_t expected = 0) {
    database = std::move(db);
    stage = std::move(name);
    bytes = 0;
    total = expected;
    stage_started = std::chrono::steady_clock::now();
  }
};

struct run_control {
  std::atomic<bool> stop_requested{false};
  live_progress progress;
  std::shared_ptr<child_handle> child = std::make_shared<child_handle>();
  /// Asks the server to cancel a blocking query running on another thread (set around it).
  std::function<void()> cancel_query;

  /// Call on the run's executor (the child handle is not thread-safe).
  void request_stop() {
    stop_requested = true;
    child->kill();
    if (cancel_query) cancel_query();
  }
  bool stopping() const { return stop_requested.load(); }
};

}  // namespace pgship::agent

#pragma once
// How a caller (a signal handler, the daemon's shutdown) stops a run in progress: the flag is
// checked between stages and upload chunks, and the running child process is killed.

#include <atomic>
#include <memory>

#include "child_process.hpp"

namespace pgship::agent {

struct run_control {
  std::atomic<bool> stop_requested{false};
  std::shared_ptr<child_handle> child = std::make_shared<child_handle>();

  /// Call on the run's executor (the child handle is not thread-safe).
  void request_stop() {
    stop_requested = true;
    child->kill();
  }
  bool stopping() const { return stop_requested.load(); }
};

}  // namespace pgship::agent

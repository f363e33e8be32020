#pragma once
// The receiver re-reads what it stores: every SCRUB_INTERVAL, at no more than SCRUB_RATE
// bytes/s, each committed backup is hashed again and compared with its record. A backup whose
// bytes no longer match (bit rot, a bad disk, a hand edit) goes to .quarantine/: it leaves the
// list, so retention can never count it as a kept backup, and /health turns degraded. One
// scrub at a time, on its own thread (it reads for hours; the hash pool serves uploads).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "state/context.hpp"

namespace pgship::receiver {

class scrubber {
 public:
  explicit scrubber(std::shared_ptr<receiver_context> ctx);
  /// Stops a scrub in progress (within one block) and waits for it.
  ~scrubber();
  scrubber(const scrubber&) = delete;
  scrubber& operator=(const scrubber&) = delete;

  /// Starts a scrub now unless one runs; false when one already runs. Thread-safe.
  bool start(const std::string& trigger);
  bool running() const { return running_; }
  /// Whether a scheduled scrub is due (SCRUB_INTERVAL since the last one completed).
  bool due(std::chrono::system_clock::time_point now) const;

 private:
  void scrub_all(const std::string& trigger);
  /// Sleeps `d` unless asked to stop; false when stopping.
  bool pause(std::chrono::steady_clock::duration d);

  std::shared_ptr<receiver_context> ctx_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};  // checked every block: shutdown never waits for a whole scrub
  std::atomic<std::chrono::system_clock::time_point> last_completed_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgship::receiver

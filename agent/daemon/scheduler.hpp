#pragma once
// The scheduler loop: sleeps until the cron expression's next fire time (computed from the
// wall clock each time, in slices so a clock change is noticed), adds SCHEDULE_JITTER, and
// fires. After a pause or a clock jump forward, MISSED_RUN_POLICY decides: `run-once` fires
// once if the miss is shorter than one period, `skip` never catches up. Clock and sleep are
// injected, so tests run it against a fake clock without waiting.

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "schedule/cron.hpp"
#include "settings.hpp"

namespace pgship::agent {

struct scheduler_clock {
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)> sleep;
  /// Longest single sleep, so a wall-clock change is noticed within it.
  std::chrono::milliseconds slice = std::chrono::seconds(30);

  /// The system clock and a steady timer on the current executor.
  static scheduler_clock system();
};

struct scheduler_hooks {
  /// Starts a run for the fire due at `due`; false when one is already active (skipped).
  std::function<bool(std::chrono::system_clock::time_point due)> fire;
  std::function<void(std::chrono::system_clock::time_point)> next_run;
  std::function<void()> skipped;
};

/// Runs until `*stop` is set (checked after every sleep) or the expression never fires again.
boost::asio::awaitable<void> run_scheduler(cron_expr cron, std::chrono::milliseconds jitter,
                                           missed_run_policy policy, scheduler_clock clock,
                                           scheduler_hooks hooks, std::shared_ptr<bool> stop);

/// Whether a fire that is `late` past its time still runs: within two seconds always; beyond,
/// only under run-once and when shorter than `period`.
bool fire_when_late(std::chrono::milliseconds late, std::chrono::seconds period,
                    missed_run_policy policy);

}  // namespace pgship::agent

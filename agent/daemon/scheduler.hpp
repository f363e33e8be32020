#pragma once
// The scheduler loop: sleeps until the cron expression's next fire time (computed from the
// wall clock each time, in slices so a clock change is noticed), adds SCHEDULE_JITTER, and
// starts a run unless one is active (then the fire is skipped and counted). After a pause or
// a clock jump forward, MISSED_RUN_POLICY decides: `run-once` fires once if the miss is
// shorter than one period, `skip` never catches up.

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "daemon/daemon_state.hpp"

namespace pgship::agent {

struct scheduler_clock {
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
  /// Longest single sleep, so a wall-clock change is noticed within it.
  std::chrono::milliseconds slice = std::chrono::seconds(30);
};

/// Runs until `stop` is set (checked after every slice) or the expression never fires again.
boost::asio::awaitable<void> run_scheduler(daemon_state& state, scheduler_clock clock,
                                           std::shared_ptr<bool> stop);

/// Whether a fire that is `late` past its time still runs: within two seconds always; beyond,
/// only under run-once and when shorter than `period`.
bool fire_when_late(std::chrono::milliseconds late, std::chrono::seconds period,
                    missed_run_policy policy);

}  // namespace pgship::agent

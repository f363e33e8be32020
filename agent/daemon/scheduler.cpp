#include "daemon/scheduler.hpp"
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::agent {

namespace net = boost::asio;
using namespace std::chrono;

bool fire_when_late(milliseconds late, seconds period, missed_run_policy policy) {
  if (late <= seconds(2)) return true;
  return policy == missed_run_policy::run_once && late < period;
}

net::awaitable<void> run_scheduler(daemon_state& state, scheduler_clock clock,
                                   std::shared_ptr<bool> stop) {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::mt19937_64 rng(std::random_device{}());
  const auto& cfg = state.cfg();
  auto due = next_fire(state.cron(), clock.now());
  while (!*stop) {
    if (!due) {
      log::write(spdlog::level::warn,
                 "SCHEDULE \"" + state.cron().text + "\" never fires again; no scheduled runs", {});
      co_return;
    }
    const auto jitter_ms =
        cfg.schedule_jitter.count() > 0
            ? std::uniform_int_distribution<std::int64_t>(0, cfg.schedule_jitter.count())(rng)
            : 0;
    const auto fire_at = *due + milliseconds(jitter_ms);
    state.metrics().next_run(fire_at);
    while (!*stop && clock.now() < fire_at) {
      const auto left = duration_cast<milliseconds>(fire_at - clock.now());
      timer.expires_after(std::min(left + milliseconds(1), clock.slice));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
    if (*stop) co_return;

    const auto now = clock.now();
    const auto late = duration_cast<milliseconds>(now - fire_at);
    const auto period = longest_period(state.cron(), *due).value_or(hours(24));
    if (!fire_when_late(late, period, cfg.missed_runs)) {
      log::write(spdlog::level::warn,
                 "scheduled run of " + format_utc(*due) + " missed by " +
                     std::to_string(duration_cast<seconds>(late).count()) +
                     " s (clock change or pause): skipped",
                 {});
    } else {
      std::string active;
      const auto started = state.start_run("schedule", {}, active);
      if (!started) {
        state.metrics().skipped();
        log::write(spdlog::level::warn,
                   "scheduled fire skipped: run " + active + " is still active",
                   {{"run_id", active}});
      }
    }
    // From the wall clock, not from `due`: a long pause does not fire a burst of missed runs.
    due = next_fire(state.cron(), std::max(now, *due));
  }
}

}  // namespace pgship::agent

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

scheduler_clock scheduler_clock::system() {
  scheduler_clock c;
  c.now = [] { return system_clock::now(); };
  c.sleep = [](milliseconds d) -> net::awaitable<void> {
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  };
  return c;
}

bool fire_when_late(milliseconds late, seconds period, missed_run_policy policy) {
  if (late <= seconds(2)) return true;
  return policy == missed_run_policy::run_once && late < period;
}

net::awaitable<void> run_scheduler(cron_expr cron, milliseconds jitter, missed_run_policy policy,
                                   scheduler_clock clock, scheduler_hooks hooks,
                                   std::shared_ptr<bool> stop) {
  std::mt19937_64 rng(std::random_device{}());
  auto due = next_fire(cron, clock.now());
  while (!*stop) {
    if (!due) {
      log::write(spdlog::level::warn,
                 "SCHEDULE \"" + cron.text + "\" never fires again; no scheduled runs", {});
      co_return;
    }
    std::int64_t jitter_ms = 0;
    if (jitter.count() > 0) {
      jitter_ms = std::uniform_int_distribution<std::int64_t>(0, jitter.count())(rng);
    }
    const auto fire_at = *due + milliseconds(jitter_ms);
    if (hooks.next_run) hooks.next_run(fire_at);
    while (!*stop && clock.now() < fire_at) {
      const auto left = duration_cast<milliseconds>(fire_at - clock.now()) + milliseconds(1);
      co_await clock.sleep(std::min(left, clock.slice));
    }
    if (*stop) co_return;

    const auto now = clock.now();
    const auto late = duration_cast<milliseconds>(now - fire_at);
    const auto period = longest_period(cron, *due).value_or(hours(24));
    if (!fire_when_late(late, period, policy)) {
      log::write(spdlog::level::warn,
                 "scheduled run of " + format_utc(*due) + " missed by " +
                     std::to_string(duration_cast<seconds>(late).count()) +
                     " s (clock change or pause): skipped",
                 {});
    } else if (!hooks.fire(*due)) {
      if (hooks.skipped) hooks.skipped();
    }
    // From the wall clock, not from `due`: a long pause does not fire a burst of missed runs.
    due = next_fire(cron, std::max(now, *due));
  }
}

}  // namespace pgship::agent

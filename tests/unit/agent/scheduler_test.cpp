#include "daemon/scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <pgship/common/time_text.hpp>

namespace pgship::agent {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using sys_clock = std::chrono::system_clock;

// A clock that only moves when the scheduler sleeps (by exactly the time asked), or when a
// test makes it jump, and a record of what the scheduler did.
struct fake_world {
  sys_clock::time_point now = *parse_utc("2026-11-21T00:30:00Z");
  std::vector<sys_clock::time_point> fired;  // the clock at each fire (skipped ones too)
  int skipped = 0;
  bool busy = false;                          // fire() answers "a run is active"
  std::function<void(fake_world&)> on_sleep;  // e.g. a clock jump

  void run(const char* schedule, std::chrono::milliseconds jitter, missed_run_policy policy,
           std::size_t fires_wanted) {
    std::string error;
    const auto cron = parse_cron(schedule, error);
    ASSERT_TRUE(cron) << error;
    auto stop = std::make_shared<bool>(false);
    scheduler_clock clock;
    clock.now = [this] { return now; };
    clock.sleep = [this](std::chrono::milliseconds d) -> net::awaitable<void> {
      now += d;
      if (on_sleep) on_sleep(*this);
      co_return;
    };
    scheduler_hooks hooks;
    hooks.fire = [this, stop, fires_wanted](sys_clock::time_point) {
      fired.push_back(now);
      if (fired.size() >= fires_wanted) *stop = true;
      return !busy;
    };
    hooks.skipped = [this] { ++skipped; };
    net::io_context io;
    net::co_spawn(io, run_scheduler(*cron, jitter, policy, clock, hooks, stop),
                  [](std::exception_ptr e) {
                    if (e) std::rethrow_exception(e);
                  });
    io.run();
  }
};

std::vector<std::string> texts(const std::vector<sys_clock::time_point>& times) {
  std::vector<std::string> out;
  for (const auto& t : times)
    out.push_back(format_utc(t));
  return out;
}

TEST(Scheduler, FiresAtEachScheduledTime) {
  fake_world w;
  w.run("0 * * * *", 0ms, missed_run_policy::run_once, 3);
  EXPECT_EQ(texts(w.fired),
            (std::vector<std::string>{"2026-11-21T01:00:00Z", "2026-11-21T02:00:00Z",
                                      "2026-11-21T03:00:00Z"}));
}

TEST(Scheduler, JitterDelaysEachFireWithinItsBound) {
  fake_world w;
  w.run("0 * * * *", 10min, missed_run_policy::run_once, 50);
  ASSERT_EQ(w.fired.size(), 50u);
  bool some_delay = false;
  for (std::size_t i = 0; i < w.fired.size(); ++i) {
    const auto hour = std::chrono::floor<std::chrono::hours>(w.fired[i]);
    const auto delay = w.fired[i] - hour;
    EXPECT_GE(delay, 0ms);
    EXPECT_LE(delay, 10min + 1ms) << format_utc(w.fired[i]);
    if (delay > 1s) some_delay = true;
    if (i > 0) {
      EXPECT_EQ(hour - std::chrono::floor<std::chrono::hours>(w.fired[i - 1]), 1h);
    }
  }
  EXPECT_TRUE(some_delay) << "50 fires without any jitter";
}

TEST(Scheduler, AFireWhileARunIsActiveIsSkippedAndCounted) {
  fake_world w;
  w.busy = true;
  w.run("*/15 * * * *", 0ms, missed_run_policy::run_once, 4);
  EXPECT_EQ(w.skipped, 4);
  EXPECT_EQ(texts(w.fired),
            (std::vector<std::string>{"2026-11-21T00:45:00Z", "2026-11-21T01:00:00Z",
                                      "2026-11-21T01:15:00Z", "2026-11-21T01:30:00Z"}))
      << "a skipped fire does not shift the schedule";
}

TEST(Scheduler, AClockJumpFiresOnceUnderRunOnceAndNeverABurst) {
  fake_world w;
  bool jumped = false;
  // While waiting for 01:00, the clock jumps to 05:20: four fires were missed.
  w.on_sleep = [&jumped](fake_world& world) {
    if (!jumped && world.now >= *parse_utc("2026-11-21T00:50:00Z")) {
      world.now = *parse_utc("2026-11-21T05:20:00Z");
      jumped = true;
    }
  };
  w.run("0 * * * *", 0ms, missed_run_policy::run_once, 2);
  // The miss (4 h 20 min) is longer than one period (1 h): not caught up; next on time.
  EXPECT_EQ(texts(w.fired),
            (std::vector<std::string>{"2026-11-21T06:00:00Z", "2026-11-21T07:00:00Z"}));

  fake_world daily;
  bool paused = false;
  // A daily schedule missed by 5 hours (a suspended VM): one catch-up run, then on time.
  daily.on_sleep = [&paused](fake_world& world) {
    if (!paused && world.now >= *parse_utc("2026-11-22T02:59:00Z")) {
      world.now = *parse_utc("2026-11-22T08:00:00Z");
      paused = true;
    }
  };
  daily.run("0 3 * * *", 0ms, missed_run_policy::run_once, 3);
  EXPECT_EQ(texts(daily.fired),
            (std::vector<std::string>{"2026-11-21T03:00:00Z", "2026-11-22T08:00:00Z",
                                      "2026-11-23T03:00:00Z"}));

  fake_world skipping;
  paused = false;
  skipping.on_sleep = daily.on_sleep;
  skipping.run("0 3 * * *", 0ms, missed_run_policy::skip, 2);
  EXPECT_EQ(texts(skipping.fired),
            (std::vector<std::string>{"2026-11-21T03:00:00Z", "2026-11-23T03:00:00Z"}));
}

TEST(Scheduler, FireWhenLate) {
  EXPECT_TRUE(fire_when_late(1500ms, 3600s, missed_run_policy::skip));
  EXPECT_FALSE(fire_when_late(5s, 3600s, missed_run_policy::skip));
  EXPECT_TRUE(fire_when_late(5s, 3600s, missed_run_policy::run_once));
  EXPECT_FALSE(fire_when_late(2h, 3600s, missed_run_policy::run_once));
}

}  // namespace
}  // namespace pgship::agent

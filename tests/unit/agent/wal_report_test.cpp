#include "daemon/wal_report.hpp"

#include <gtest/gtest.h>

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;

TEST(WalReport, HealthFailsWhenTheStreamIsDownTooLongOrLagsPastTheLimit) {
  wal::wal_status s;
  s.up = true;
  s.lag_seconds = 59.5;
  EXPECT_TRUE(wal_problems(s, 60s).empty());
  s.lag_seconds = 61;
  auto problems = wal_problems(s, 60s);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("WAL_MAX_LAG"), std::string::npos) << problems[0];

  s = {};
  s.up = false;
  s.down_for = 30s;  // a reconnect's backoff is no outage yet
  EXPECT_TRUE(wal_problems(s, 60s).empty());
  s.down_for = 31s;
  s.last_error = "no pg_hba.conf entry";
  problems = wal_problems(s, 60s);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("down for 31 s: no pg_hba.conf entry"), std::string::npos)
      << problems[0];
}

TEST(WalReport, LagIsOneEventWhenItStartsAndOneWhenItClears) {
  wal_lag_events lag;
  wal::wal_status s;
  s.up = true;
  s.system_id = "7312";
  s.lag_seconds = 1;
  EXPECT_FALSE(lag.next(s, 60s)) << "healthy from the start: nothing to say";
  s.lag_seconds = 95;
  const auto lagging = lag.next(s, 60s);
  ASSERT_TRUE(lagging);
  EXPECT_EQ(lagging->name, "wal.lag");
  EXPECT_NE(lagging->message.find("WAL_MAX_LAG"), std::string::npos) << lagging->message;
  EXPECT_EQ(lagging->details.at("system").as_string(), "7312");
  s.lag_seconds = 120;
  EXPECT_FALSE(lag.next(s, 60s)) << "still lagging: no new event";
  s.lag_seconds = 0.5;
  const auto clear = lag.next(s, 60s);
  ASSERT_TRUE(clear);
  EXPECT_EQ(clear->name, "wal.caught_up");
  EXPECT_FALSE(lag.next(s, 60s));
  s.up = false;
  s.down_for = 45s;
  const auto down = lag.next(s, 60s);
  ASSERT_TRUE(down) << "down past the limit counts as lagging";
  EXPECT_EQ(down->name, "wal.lag");

  // For Alertmanager: a first healthy look resolves what a run before a restart fired.
  wal_lag_events resolving(true);
  s = {};
  s.up = true;
  const auto first = resolving.next(s, 60s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->name, "wal.caught_up");
  EXPECT_FALSE(resolving.next(s, 60s));
}

TEST(WalReport, StatusJsonSpellsPositionsAsPostgresDoes) {
  wal::wal_status s;
  s.up = true;
  s.slot = "pgship";
  s.server_lsn = 0x16B374D848;
  const auto o = wal_status_json(s);
  EXPECT_EQ(o.at("server_lsn").as_string(), "16/B374D848");
  EXPECT_EQ(o.at("slot").as_string(), "pgship");
  EXPECT_FALSE(o.contains("down_seconds"));
  EXPECT_FALSE(o.contains("last_error"));
}

}  // namespace
}  // namespace pgship::agent

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

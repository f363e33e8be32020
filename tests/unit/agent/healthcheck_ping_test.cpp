// HEALTHCHECK_PING_URL's URLs (net/healthcheck_ping): the event's suffix, ?rid=, and {db}
// percent-encoded into one path segment; the log tail cut at a line start.
#include <string>

#include <gtest/gtest.h>

#include "net/healthcheck_ping.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

using agent::ping_event;
using agent::ping_url;

TEST(HealthcheckPing, UrlsNameTheEventTheRunAndTheDatabase) {
  EXPECT_EQ(ping_url("https://hc-ping.com/u-1", "", ping_event::start, "R"),
            "https://hc-ping.com/u-1/start?rid=R");
  EXPECT_EQ(ping_url("https://hc-ping.com/u-1/", "", ping_event::success, "R"),
            "https://hc-ping.com/u-1?rid=R");
  EXPECT_EQ(ping_url("https://hc-ping.com/k/backup-{db}", "app", ping_event::fail, "R"),
            "https://hc-ping.com/k/backup-app/fail?rid=R");
  EXPECT_EQ(ping_url("https://h/k/{db}", "a b/c?d#e", ping_event::success, "R"),
            "https://h/k/a%20b%2Fc%3Fd%23e?rid=R")
      << "a database name stays one path segment";
}

TEST(HealthcheckPing, TheLogTailStartsAtALine) {
  temp_dir dir;
  std::string log;
  for (int i = 0; i < 1000; ++i)
    log += "line " + std::to_string(i) + "\n";
  write_file(dir.path() / "run.log", log);
  const auto tail = agent::log_tail(dir.path() / "run.log", 100);
  EXPECT_LE(tail.size(), 100u);
  EXPECT_TRUE(tail.starts_with("line ")) << tail;
  EXPECT_TRUE(tail.ends_with("line 999\n"));
  EXPECT_EQ(agent::log_tail(dir.path() / "missing.log"), "");
}

}  // namespace
}  // namespace pgship::test

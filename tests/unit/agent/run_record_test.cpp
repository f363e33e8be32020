#include "pipeline/run_record.hpp"

#include <gtest/gtest.h>

namespace pgship::agent {
namespace {

TEST(RunRecord, RunIdsAreRecognised) {
  const auto id = new_run_id(std::chrono::system_clock::now());
  EXPECT_TRUE(is_run_id(id)) << id;
  EXPECT_TRUE(is_run_id("20261121T030000Z-3f9a1c"));
  for (const char* other :
       {"", "20261121T030000Z-3f9a1", "20261121T030000Z-3F9A1C", "20261121-030000Z-3f9a1c",
        "2026112xT030000Z-3f9a1c", "syslog", "20261121T030000Z-3f9a1c0"}) {
    EXPECT_FALSE(is_run_id(other)) << other;
  }
}

TEST(RunRecord, CancelledIsItsOwnResult) {
  EXPECT_EQ(result_name({}), "ok");
  EXPECT_EQ(result_name(fail(errc::dump_failed, "x")), "failed");
  EXPECT_EQ(result_name(fail(errc::cancelled, "x")), "cancelled");
  run_record run;
  run.error = fail(errc::cancelled, "stopped");
  EXPECT_TRUE(run.cancelled());
  EXPECT_NE(to_json(run).find("\"result\":\"cancelled\""), std::string::npos) << to_json(run);
}

}  // namespace
}  // namespace pgship::agent

namespace pgship::agent {
namespace {

// boost::json prints doubles as 6.10262209E-1; run records carry seconds as plain decimals
// rounded to milliseconds.
TEST(RunRecord, SecondsArePlainDecimalsWithoutExponents) {
  run_record run;
  run.kind = "drill";
  run.started = std::chrono::system_clock::now();
  run.finished = run.started + std::chrono::nanoseconds(610262209);
  database_run d;
  d.database = "db";
  d.stages.push_back({"dump", run.started, 0.000012345, 1, true});
  d.stages.push_back({"verify", run.started, 0.610262209, 1, true});
  d.drill = drill_outcome{};
  d.drill->recovery_seconds = 1234.5678912;
  run.databases.push_back(d);
  const auto text = to_json(run);
  EXPECT_EQ(text.find("E-"), std::string::npos) << text;
  EXPECT_EQ(text.find("e-"), std::string::npos) << text;
  EXPECT_NE(text.find("\"seconds\":0.61,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"seconds\":0.0,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"recovery_seconds\":1234.568"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgship::agent

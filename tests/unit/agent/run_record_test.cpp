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

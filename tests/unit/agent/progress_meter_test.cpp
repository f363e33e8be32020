// Progress arithmetic (pipeline/progress_meter) with made-up clocks: the rate over the recent
// window, an ETA that falls at a steady rate, a new stage starting afresh, and a stall named
// once per quiet spell, only for stages that count bytes.
#include "pipeline/progress_meter.hpp"

#include <gtest/gtest.h>

#include "pipeline/progress_watch.hpp"

namespace pgship::test {
namespace {

using agent::live_progress;
using agent::progress_meter;
using namespace std::chrono_literals;

struct stage_at {
  live_progress p;
  progress_meter::clock::time_point t0 = progress_meter::clock::time_point{} + 1000s;

  explicit stage_at(std::uint64_t total, const char* stage = "upload") {
    p.database = "trading";
    p.stage = stage;
    p.total = total;
    p.stage_started = t0;
  }
};

TEST(ProgressMeter, RateAndEtaFollowASteadyStream) {
  stage_at s(100 << 20);
  progress_meter meter;
  std::optional<double> last_eta;
  for (int i = 1; i <= 20; ++i) {
    s.p.bytes = static_cast<std::uint64_t>(i) << 20;  // 1 MiB a second
    const auto v = meter.sample(s.p, s.t0 + std::chrono::seconds(i));
    if (i == 1) {
      EXPECT_FALSE(v.eta_seconds) << "no rate from one sample";
      continue;
    }
    EXPECT_NEAR(v.bytes_per_second, 1 << 20, 1.0);
    ASSERT_TRUE(v.eta_seconds);
    EXPECT_NEAR(*v.eta_seconds, 100 - i, 0.01);
    if (last_eta) {
      EXPECT_LT(*v.eta_seconds, *last_eta);
    }
    last_eta = v.eta_seconds;
    EXPECT_FALSE(meter.stalled());
  }
}

TEST(ProgressMeter, TheRateFollowsTheRecentWindowNotTheWholeStage) {
  stage_at s(1000 << 20);
  progress_meter meter;
  // 10 MiB/s for 20 s, then 1 MiB/s: within the window the rate is the new one.
  std::uint64_t bytes = 0;
  for (int i = 1; i <= 40; ++i) {
    bytes += (i <= 20 ? 10u : 1u) << 20;
    s.p.bytes = bytes;
    const auto v = meter.sample(s.p, s.t0 + std::chrono::seconds(i));
    if (i == 40) {
      EXPECT_NEAR(v.bytes_per_second, 1 << 20, 1.0);
    }
  }
}

TEST(ProgressMeter, NoEtaWithoutATotalOrOnceTheEstimateIsPassed) {
  stage_at s(0);
  progress_meter meter;
  s.p.bytes = 5 << 20;
  meter.sample(s.p, s.t0 + 1s);
  s.p.bytes = 6 << 20;
  auto v = meter.sample(s.p, s.t0 + 2s);
  EXPECT_FALSE(v.eta_seconds);
  EXPECT_GT(v.bytes_per_second, 0);

  stage_at d(4 << 20, "dump");
  progress_meter other;
  d.p.bytes = 3 << 20;
  other.sample(d.p, d.t0 + 1s);
  d.p.bytes = 5 << 20;
  v = other.sample(d.p, d.t0 + 2s);
  EXPECT_GT(v.bytes_per_second, 0);
  EXPECT_FALSE(v.eta_seconds) << "a dump may write more than the database's size estimate";
}

TEST(ProgressMeter, ANewStageStartsTheRateAfresh) {
  stage_at s(100 << 20, "dump");
  progress_meter meter;
  s.p.bytes = 50 << 20;
  meter.sample(s.p, s.t0 + 5s);
  s.p.stage = "upload";
  s.p.stage_started = s.t0 + 6s;
  // Resumed at 40 MiB: that is where the stage starts, not 40 MiB of progress in a second.
  s.p.bytes = 40 << 20;
  auto v = meter.sample(s.p, s.t0 + 7s);
  EXPECT_EQ(v.stage, "upload");
  EXPECT_EQ(v.bytes_per_second, 0);
  EXPECT_NEAR(v.stage_seconds, 1.0, 1e-9);
  s.p.bytes = 41 << 20;
  v = meter.sample(s.p, s.t0 + 8s);
  EXPECT_NEAR(v.bytes_per_second, 1 << 20, 1.0);
  ASSERT_TRUE(v.eta_seconds);
  EXPECT_NEAR(*v.eta_seconds, 59, 0.01);
}

TEST(ProgressMeter, AStageWithoutBytesForAMinuteIsStalledOncePerQuietSpell) {
  stage_at s(100 << 20, "dump");
  progress_meter meter(60s);
  s.p.bytes = 3 << 20;
  meter.sample(s.p, s.t0 + 1s);
  int stalls = 0;
  for (int i = 2; i <= 150; ++i) {
    meter.sample(s.p, s.t0 + std::chrono::seconds(i));
    if (const auto& st = meter.stalled()) {
      ++stalls;
      EXPECT_EQ(i, 61) << "a minute after the last byte";
      EXPECT_EQ(st->stage, "dump");
      EXPECT_EQ(st->bytes, 3u << 20);
      EXPECT_NEAR(st->seconds, 60, 1e-9);
    }
  }
  EXPECT_EQ(stalls, 1);
  // Progress again, then quiet again: a second stall.
  s.p.bytes += 1;
  meter.sample(s.p, s.t0 + 151s);
  for (int i = 152; i <= 211; ++i)
    meter.sample(s.p, s.t0 + std::chrono::seconds(i));
  EXPECT_TRUE(meter.stalled());
}

TEST(ProgressMeter, StagesWithoutAByteCounterNeverStall) {
  stage_at s(0, "recover");
  progress_meter meter(60s);
  for (int i = 1; i <= 200; ++i) {
    meter.sample(s.p, s.t0 + std::chrono::seconds(i));
    EXPECT_FALSE(meter.stalled());
  }
}

TEST(ProgressMeter, FormatsSizesAndDurationsForPeople) {
  EXPECT_EQ(agent::format_size(512), "512 B");
  EXPECT_EQ(agent::format_size(3 << 20), "3.0 MiB");
  EXPECT_EQ(agent::format_size(1288490189), "1.2 GiB");
  EXPECT_EQ(agent::format_duration(7.4), "0:07");
  EXPECT_EQ(agent::format_duration(750), "12:30");
  EXPECT_EQ(agent::format_duration(3723), "1:02:03");
}

TEST(ProgressWatch, LineAndJsonSayStageBytesRateAndEta) {
  agent::progress_view v;
  v.database = "trading";
  v.stage = "upload";
  v.bytes = 12 << 20;
  v.total = 48 << 20;
  v.bytes_per_second = 4 << 20;
  v.eta_seconds = 9;
  v.stage_seconds = 3;
  EXPECT_EQ(agent::progress_line("backup", v),
            "backup trading: upload 12.0 MiB of 48.0 MiB (25%), 4.0 MiB/s, ETA 0:09 [0:03]");
  EXPECT_EQ(agent::progress_json("backup", v),
            R"({"command":"backup","database":"trading","stage":"upload","bytes":12582912,)"
            R"("stage_seconds":3.0,"bytes_per_second":4194304,"total":50331648,"eta_seconds":9})");
}

TEST(ProgressWatch, ProgressModes) {
  using agent::parse_progress_mode;
  using agent::progress_mode;
  EXPECT_EQ(parse_progress_mode("auto", true), progress_mode::line);
  EXPECT_EQ(parse_progress_mode("auto", false), progress_mode::never);
  EXPECT_EQ(parse_progress_mode("always", false), progress_mode::line);
  EXPECT_EQ(parse_progress_mode("json", false), progress_mode::json);
  EXPECT_EQ(parse_progress_mode("never", true), progress_mode::never);
  EXPECT_FALSE(parse_progress_mode("yes", true));
}

}  // namespace
}  // namespace pgship::test

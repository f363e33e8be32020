#include <string>

#include <gtest/gtest.h>

#include "pipeline/pitr_plan.hpp"

namespace pgship::agent {
namespace {

constexpr std::int64_t base_ms = 1'780'000'000'000;  // 2026-05-28T20:26:40Z

wire::wal::archive_state two_backups() {
  wire::wal::archive_state s;
  s.system = "7311234567890123456";
  s.segment_size = 16 << 20;
  s.timelines = {{1, {{0x2000000, 0x9000000}}, false}};
  s.basebackups = {{"pgdata-a.base.tar", 1, 0x2000028, 0x2000100, base_ms},
                   {"pgdata-b.base.tar", 1, 0x5000028, 0x5000100, base_ms + 3'600'000}};
  s.pitr = wire::wal::pitr_window{base_ms, base_ms + 7'200'000};
  return s;
}

pitr_target parsed(const std::string& text) {
  std::string why;
  const auto t = parse_pitr_target(text, why);
  EXPECT_TRUE(t) << text << ": " << why;
  return t.value_or(pitr_target{});
}

TEST(pitr_plan_test, targets_are_latest_an_lsn_or_a_time_with_its_offset) {
  EXPECT_EQ(parsed("latest").what, pitr_target::kind::latest);
  const auto lsn = parsed("0/5000200");
  EXPECT_EQ(lsn.what, pitr_target::kind::lsn);
  EXPECT_EQ(lsn.lsn, 0x5000200u);
  const auto z = parsed("2026-05-28T20:26:40Z");
  EXPECT_EQ(z.what, pitr_target::kind::time);
  EXPECT_EQ(z.unix_us, base_ms * 1000);
  // The same moment written in another zone, with a fraction and a space.
  EXPECT_EQ(parsed("2026-05-28 22:26:40.250+02:00").unix_us, base_ms * 1000 + 250000);
  EXPECT_EQ(parsed("2026-05-28T15:26:40.000001-05:00").unix_us, base_ms * 1000 + 1);
  std::string why;
  for (const auto* bad : {"2026-05-28T20:26:40", "yesterday", "2026-13-01T00:00:00Z",
                          "2026-05-28T20:26:40+2", "0/XYZ", ""}) {
    EXPECT_FALSE(parse_pitr_target(bad, why)) << bad;
    EXPECT_NE(why.find("RFC 3339"), std::string::npos) << why;
  }
}

TEST(pitr_plan_test, the_newest_backup_that_ends_before_the_target_is_chosen) {
  const auto s = two_backups();
  std::string why;
  EXPECT_EQ(choose_base_backup(s, parsed("latest"), why)->id, "pgdata-b.base.tar");
  // Between the two backups' ends: the older one, never the newer.
  EXPECT_EQ(choose_base_backup(s, parsed("2026-05-28T20:56:40Z"), why)->id, "pgdata-a.base.tar");
  EXPECT_EQ(choose_base_backup(s, parsed("2026-05-28T21:26:40Z"), why)->id, "pgdata-b.base.tar");
  EXPECT_EQ(choose_base_backup(s, parsed("0/4000000"), why)->id, "pgdata-a.base.tar");
  EXPECT_EQ(choose_base_backup(s, parsed("0/5000100"), why)->id, "pgdata-b.base.tar");
}

TEST(pitr_plan_test, a_target_outside_the_window_is_refused_with_the_window_named) {
  const auto s = two_backups();
  std::string why;
  EXPECT_FALSE(choose_base_backup(s, parsed("2026-05-28T20:26:39.999Z"), why));
  EXPECT_NE(why.find("before the oldest usable base backup's end"), std::string::npos) << why;
  EXPECT_NE(why.find("2026-05-28T20:26:40.000Z to 2026-05-28T22:26:40.000Z"), std::string::npos)
      << why;
  EXPECT_FALSE(choose_base_backup(s, parsed("2026-05-28T22:26:41Z"), why));
  EXPECT_NE(why.find("after the newest WAL"), std::string::npos) << why;
  EXPECT_FALSE(choose_base_backup(s, parsed("0/2000000"), why));
  EXPECT_NE(why.find("before the oldest base backup's stop position (0/2000100)"),
            std::string::npos)
      << why;
  EXPECT_FALSE(choose_base_backup(s, parsed("0/A000000"), why));
  EXPECT_NE(why.find("past the archive's end (0/9000000)"), std::string::npos) << why;
  wire::wal::archive_state none;
  none.system = "1";
  EXPECT_FALSE(choose_base_backup(none, parsed("latest"), why));
  EXPECT_NE(why.find("no complete base backup"), std::string::npos) << why;
}

TEST(pitr_plan_test, recovery_settings_name_the_target_in_utc_and_promote_there) {
  const auto settings =
      recovery_settings(parsed("2026-05-28 22:26:40.25+02:00"), "pgship-agent wal-fetch %f %p");
  EXPECT_NE(settings.find("restore_command = 'pgship-agent wal-fetch %f %p'\n"), std::string::npos)
      << settings;
  EXPECT_NE(settings.find("recovery_target_time = '2026-05-28 20:26:40.250000+00'\n"),
            std::string::npos)
      << settings;
  EXPECT_NE(settings.find("recovery_target_timeline = 'latest'\n"), std::string::npos);
  EXPECT_NE(settings.find("recovery_target_action = 'promote'\n"), std::string::npos);
  const auto latest = recovery_settings(parsed("latest"), "x");
  EXPECT_EQ(latest.find("recovery_target_time ="), std::string::npos) << latest;
  EXPECT_EQ(latest.find("recovery_target_action"), std::string::npos) << latest;
  EXPECT_NE(recovery_settings(parsed("0/5000200"), "x").find("recovery_target_lsn = '0/5000200'"),
            std::string::npos);
}

}  // namespace
}  // namespace pgship::agent

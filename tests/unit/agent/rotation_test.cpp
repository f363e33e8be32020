#include "repository/rotation.hpp"
#include <chrono>

#include <gtest/gtest.h>

#include <pgship/common/backup_name.hpp>

#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;
using sys_clock = std::chrono::system_clock;

// 2026-03-15 12:00:00 UTC
const sys_clock::time_point now = sys_clock::time_point(std::chrono::seconds(1773576000));

local_backup backup_at(sys_clock::time_point t, upload_state s = upload_state::uploaded) {
  return {format_backup_name("db", t), t, s};
}

std::vector<std::string> names(std::initializer_list<local_backup> list) {
  std::vector<std::string> out;
  for (const auto& b : list)
    out.push_back(b.name);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SelectRotation, KeepsTheNewestNAndDeletesTheRest) {
  const auto a = backup_at(now - 72h), b = backup_at(now - 48h), c = backup_at(now - 24h),
             d = backup_at(now);
  rotation_rule rule;
  rule.keep_newest = 2;
  EXPECT_EQ(select_rotation({c, a, d, b}, rule, now), names({a, b}));
  rule.keep_newest = 4;
  EXPECT_TRUE(select_rotation({c, a, d, b}, rule, now).empty());
}

TEST(SelectRotation, NeverDeletesABackupWhoseUploadHasNotSucceeded) {
  const auto pending = backup_at(now - 72h, upload_state::pending);
  const auto failed = backup_at(now - 48h, upload_state::failed);
  const auto shipped = backup_at(now - 36h, upload_state::uploaded);
  const auto newest = backup_at(now);
  rotation_rule rule;
  rule.keep_newest = 1;
  EXPECT_EQ(select_rotation({pending, failed, shipped, newest}, rule, now), names({shipped}));
  // Without a receiver (UPLOAD=off) nothing is waiting for an upload.
  rule.upload_required = false;
  EXPECT_EQ(select_rotation({pending, failed, shipped, newest}, rule, now),
            names({pending, failed, shipped}));
}

TEST(SelectRotation, BackupsMadeWithUploadOffAreNotWaitingForOne) {
  const auto local_only = backup_at(now - 48h, upload_state::skipped);
  const auto newest = backup_at(now);
  rotation_rule rule;
  rule.keep_newest = 1;
  EXPECT_EQ(select_rotation({local_only, newest}, rule, now), names({local_only}));
}

TEST(SelectRotation, GfsKeepsOnePerDayWeekAndMonthForASyntheticSeries) {
  // A backup every 6 hours for 120 days.
  std::vector<local_backup> series;
  for (int i = 0; i < 120 * 4; ++i)
    series.push_back(backup_at(now - std::chrono::hours(6 * i)));
  rotation_rule rule;
  rule.gfs.keep_days = 7;
  rule.gfs.keep_weeks = 4;
  rule.gfs.keep_months = 3;
  const auto doomed = select_rotation(series, rule, now);
  std::set<std::string> kept;
  for (const auto& b : series)
    if (!std::binary_search(doomed.begin(), doomed.end(), b.name)) kept.insert(b.name);
  // Newest of each of 7 days, of 4 ISO weeks and of 3 months, with overlaps: between 7 and 14.
  EXPECT_GE(kept.size(), 7u);
  EXPECT_LE(kept.size(), 14u);
  EXPECT_TRUE(kept.contains(series.front().name)) << "the newest is always kept";
  // Every kept backup is the newest of its UTC day.
  for (const auto& name : kept) {
    const auto parsed = parse_backup_name(name);
    ASSERT_TRUE(parsed);
    const auto day = std::chrono::floor<std::chrono::days>(parsed->taken);
    for (const auto& b : series) {
      if (std::chrono::floor<std::chrono::days>(b.taken) == day) {
        EXPECT_LE(b.taken, parsed->taken) << name << " is not the newest of its day";
      }
    }
  }
  // Nothing older than 3 months + a bit survives.
  for (const auto& name : kept)
    EXPECT_GT(parse_backup_name(name)->taken, now - std::chrono::days(31 * 3 + 1)) << name;
}

TEST(RotateLocal, RemovesAllThreeFilesOfARotatedBackupAndLeavesOtherDatabases) {
  test::temp_dir dir;
  const auto old = backup_at(now - 48h), fresh = backup_at(now);
  const auto other = format_backup_name("db-other", now - 72h);
  for (const auto& name : {old.name, fresh.name, other}) {
    test::write_file(dir / name, "PGDMP");
    test::write_file(dir / (name + ".sha256"), "x");
    manifest m;
    m.name = name;
    m.sha256 = std::string(64, 'a');
    m.upload.state = upload_state::uploaded;
    ASSERT_FALSE(write_manifest(dir.path(), m));
  }
  rotation_rule rule;
  rule.keep_newest = 1;
  rotate_output out;
  ASSERT_FALSE(rotate_local(dir.path(), "db", backup_kind::dump, rule, now, out));
  EXPECT_EQ(out.removed, std::vector<std::string>{old.name});
  EXPECT_EQ(out.kept, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / old.name));
  EXPECT_FALSE(std::filesystem::exists(dir / (old.name + ".sha256")));
  EXPECT_FALSE(std::filesystem::exists(manifest_path(dir.path(), old.name)));
  EXPECT_TRUE(std::filesystem::exists(dir / fresh.name));
  EXPECT_TRUE(std::filesystem::exists(dir / other)) << "another database's backup";
}

// Nothing vouches for a dump without a manifest (an old tool's that failed adoption): it is
// never rotated, not even with UPLOAD=off, and does not take a kept backup's place.
TEST(RotateLocal, ABackupWithoutAManifestIsNeverRotated) {
  for (const bool upload_required : {true, false}) {
    SCOPED_TRACE(upload_required);
    test::temp_dir dir;
    const auto old = backup_at(now - 48h), fresh = backup_at(now);
    test::write_file(dir / old.name, "PGDMP");
    test::write_file(dir / fresh.name, "PGDMP");
    rotation_rule rule;
    rule.keep_newest = 1;
    rule.upload_required = upload_required;
    rotate_output out;
    ASSERT_FALSE(rotate_local(dir.path(), "db", backup_kind::dump, rule, now, out));
    EXPECT_TRUE(out.removed.empty());
    EXPECT_TRUE(std::filesystem::exists(dir / old.name));
    EXPECT_TRUE(std::filesystem::exists(dir / fresh.name));
  }
}

// A database called globals and the cluster's globals (`.sql`) are rotated apart: each keeps
// its own newest, neither counts against the other.
TEST(RotateLocal, TheGlobalsAndADatabaseCalledGlobalsAreRotatedApart) {
  test::temp_dir dir;
  std::vector<std::string> dumps, globals;
  for (int i = 0; i < 3; ++i) {
    const auto taken = now - std::chrono::hours(24 * (3 - i));
    dumps.push_back(format_backup_name("globals", taken, ".dump"));
    globals.push_back(format_backup_name("globals", taken + 1s, ".sql.zst"));
  }
  for (const auto& names : {dumps, globals}) {
    for (const auto& name : names) {
      test::write_file(dir / name, "x");
      manifest m;
      m.name = name;
      m.sha256 = std::string(64, 'a');
      m.upload.state = upload_state::uploaded;
      ASSERT_FALSE(write_manifest(dir.path(), m));
    }
  }
  EXPECT_EQ(list_local_backups(dir.path(), "globals", backup_kind::dump).size(), 3u);
  EXPECT_EQ(list_local_backups(dir.path(), "globals", backup_kind::globals).size(), 3u);
  rotation_rule rule;
  rule.keep_newest = 2;
  rotate_output out;
  ASSERT_FALSE(rotate_local(dir.path(), "globals", backup_kind::globals, rule, now, out));
  EXPECT_EQ(out.removed, std::vector<std::string>{globals[0]});
  for (const auto& name : dumps)
    EXPECT_TRUE(std::filesystem::exists(dir / name)) << name;
  rotate_output out2;
  ASSERT_FALSE(rotate_local(dir.path(), "globals", backup_kind::dump, rule, now, out2));
  EXPECT_EQ(out2.removed, std::vector<std::string>{dumps[0]});
  EXPECT_TRUE(std::filesystem::exists(dir / globals[1]));
  EXPECT_TRUE(std::filesystem::exists(dir / globals[2]));
}

}  // namespace
}  // namespace pgship::agent

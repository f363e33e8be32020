// Retention's plan (policy/retention_plan): GFS per kind and database with the rule that keeps
// each backup, and the PITR window's anchor, base backups and WAL (DESIGN PITR_KEEP_DAYS).
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/retention_plan.hpp"

namespace pgship::test {
namespace {

using namespace receiver;
using namespace std::chrono_literals;
using clock_point = std::chrono::system_clock::time_point;

constexpr std::uint64_t seg = 16 * 1024 * 1024;
// 2026-12-07T12:00:00Z
const clock_point now = clock_point{} + std::chrono::seconds(1796644800);

std::int64_t ms(clock_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string segment(wal::timeline_id tli, std::uint64_t number) {
  return wal::segment_name({tli, number}, seg);
}

retained_backup base(const std::string& id, clock_point taken) {
  return {id, "pgdata", backup_kind::basebackup, taken};
}

wire::wal::basebackup_mark mark(const std::string& id, std::uint64_t start_seg,
                                std::uint64_t stop_seg, clock_point stop) {
  return {id, 1, start_seg * seg + 0x28, stop_seg * seg + 0x100, ms(stop)};
}

// Three base backups a day apart (taken two, one and zero days ago), WAL from segment 1 to 40.
client_holdings three_days() {
  client_holdings h;
  h.client = "app";
  h.backups = {base("pgdata-20261205-120000.base.tar.zst", now - 48h),
               base("pgdata-20261206-120000.base.tar.zst", now - 24h),
               base("pgdata-20261207-110000.base.tar.zst", now - 1h)};
  retained_system s;
  s.system = "7412345678901234567";
  s.segment_size = seg;
  for (std::uint64_t n = 1; n <= 40; ++n)
    s.segments.push_back(segment(1, n));
  s.marks = {mark("pgdata-20261205-120000.base.tar.zst", 2, 3, now - 48h + 1min),
             mark("pgdata-20261206-120000.base.tar.zst", 15, 16, now - 24h + 1min),
             mark("pgdata-20261207-110000.base.tar.zst", 30, 31, now - 1h + 1min)};
  h.systems = {s};
  return h;
}

const retention_item_verdict& verdict(const std::vector<retention_item_verdict>& all,
                                      const std::string& name) {
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const auto& v) { return v.name == name; });
  if (it == all.end()) throw std::runtime_error("no verdict on " + name);
  return *it;
}

std::vector<std::string> deleted_segments(const system_retention_plan& sp) {
  std::vector<std::string> out;
  for (const auto& s : sp.segments)
    if (s.deleted()) out.push_back(s.name);
  return out;
}

std::vector<std::string> segments(std::uint64_t first, std::uint64_t last) {
  std::vector<std::string> out;
  for (auto n = first; n <= last; ++n)
    out.push_back(segment(1, n));
  return out;
}

TEST(RetentionPlan, GfsSaysWhichRuleKeepsEachDumpPerDatabase) {
  client_holdings h;
  h.client = "app";
  h.backups = {{"app-20261207-020000.dump.zst", "app", backup_kind::dump, now - 10h},
               {"app-20261206-020000.dump.zst", "app", backup_kind::dump, now - 34h},
               {"app-20261206-010000.dump.zst", "app", backup_kind::dump, now - 35h},
               {"app-20261101-020000.dump.zst", "app", backup_kind::dump, now - 24h * 36},
               {"crm-20261101-020000.dump", "crm", backup_kind::dump, now - 24h * 36}};
  retention_settings rules;
  rules.gfs.keep_days = 2;
  const auto plan = plan_retention(h, rules, now);
  EXPECT_EQ(verdict(plan.backups, "app-20261207-020000.dump.zst").kept_by,
            (std::vector<std::string>{"newest", "day"}));
  EXPECT_EQ(verdict(plan.backups, "app-20261206-020000.dump.zst").kept_by,
            (std::vector<std::string>{"day"}));
  EXPECT_TRUE(verdict(plan.backups, "app-20261206-010000.dump.zst").deleted());
  EXPECT_TRUE(verdict(plan.backups, "app-20261101-020000.dump.zst").deleted());
  EXPECT_EQ(verdict(plan.backups, "crm-20261101-020000.dump").kept_by,
            (std::vector<std::string>{"newest"}))
      << "each database keeps its own newest";
}

TEST(RetentionPlan, NoRuleKeepsEverythingAndSaysSo) {
  const auto plan = plan_retention(three_days(), {}, now);
  for (const auto& b : plan.backups)
    EXPECT_EQ(b.kept_by, (std::vector<std::string>{"no rule set"})) << b.name;
  ASSERT_EQ(plan.systems.size(), 1u);
  EXPECT_EQ(plan.systems[0].anchor, std::nullopt);
  EXPECT_TRUE(deleted_segments(plan.systems[0]).empty());
  EXPECT_EQ(plan.systems[0].why_all_wal_kept, "PITR_KEEP_DAYS is not set");
}

TEST(RetentionPlan, TheWindowKeepsTheNewestBackupThatStoppedBeforeItsStartAndAllWalFromIt) {
  retention_settings rules;
  rules.pitr_keep_days = 1;  // from now - 24 h: the middle backup stopped 1 min after that
  auto plan = plan_retention(three_days(), rules, now);
  auto& sp = plan.systems[0];
  ASSERT_EQ(sp.anchor, "pgdata-20261205-120000.base.tar.zst")
      << "the middle one stopped after the window's start: a moment just after the start "
         "needs the oldest";
  EXPECT_EQ(deleted_segments(sp), segments(1, 1)) << "only WAL before the anchor's start goes";

  plan = plan_retention(three_days(), rules, now + 2min);  // the middle one is inside now
  auto& moved = plan.systems[0];
  EXPECT_EQ(moved.anchor, "pgdata-20261206-120000.base.tar.zst");
  EXPECT_EQ(moved.kept_from, 15 * seg + 0x28);
  EXPECT_EQ(deleted_segments(moved), segments(1, 14));
  EXPECT_EQ(verdict(moved.segments, segment(1, 15)).kept_by,
            (std::vector<std::string>{"PITR window"}));
  EXPECT_TRUE(verdict(plan.backups, "pgdata-20261205-120000.base.tar.zst").deleted());
  EXPECT_EQ(verdict(plan.backups, "pgdata-20261206-120000.base.tar.zst").kept_by,
            (std::vector<std::string>{"PITR window"}));
  EXPECT_EQ(verdict(plan.backups, "pgdata-20261207-110000.base.tar.zst").kept_by,
            (std::vector<std::string>{"newest", "PITR window"}));
  EXPECT_EQ(moved.marks_deleted, (std::vector<std::string>{"pgdata-20261205-120000.base.tar.zst"}))
      << "the deleted backup's mark goes with it: the window never names it again";
}

TEST(RetentionPlan, AnOlderBaseBackupGfsKeepsKeepsTheWalItNeedsToBecomeConsistent) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  rules.gfs.keep_weeks = 4;  // the oldest is the newest of last week... give it its own week
  auto h = three_days();
  h.backups[0].taken = now - 24h * 8;
  h.systems[0].marks[0].stop_time_ms = ms(now - 24h * 8 + 1min);
  const auto plan = plan_retention(h, rules, now + 2min);
  const auto& sp = plan.systems[0];
  EXPECT_EQ(verdict(plan.backups, "pgdata-20261205-120000.base.tar.zst").kept_by,
            (std::vector<std::string>{"week"}));
  EXPECT_EQ(verdict(sp.segments, segment(1, 2)).kept_by,
            (std::vector<std::string>{"WAL of pgdata-20261205-120000.base.tar.zst"}));
  EXPECT_FALSE(verdict(sp.segments, segment(1, 3)).deleted());
  auto expected = segments(1, 1);
  const auto between = segments(4, 14);
  expected.insert(expected.end(), between.begin(), between.end());
  EXPECT_EQ(deleted_segments(sp), expected);
  EXPECT_TRUE(sp.marks_deleted.empty());
}

TEST(RetentionPlan, WithoutACompleteBaseBackupNoWalGoes) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  auto h = three_days();
  h.systems[0].marks.clear();
  h.backups.push_back(base("pgdata-20261207-115900.base.tar.zst", now - 1min));
  const auto plan = plan_retention(h, rules, now);
  EXPECT_EQ(plan.systems[0].anchor, std::nullopt);
  EXPECT_EQ(plan.systems[0].why_all_wal_kept, "no complete base backup");
  EXPECT_TRUE(deleted_segments(plan.systems[0]).empty());
  EXPECT_FALSE(verdict(plan.backups, "pgdata-20261207-115900.base.tar.zst").deleted())
      << "a base backup inside the window whose mark is on its way";
  EXPECT_TRUE(verdict(plan.backups, "pgdata-20261205-120000.base.tar.zst").deleted())
      << "unmarked and older than the window: it recovers nothing";
}

TEST(RetentionPlan, TheWindowAloneNeverTakesTheNewestBaseBackup) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  auto h = three_days();
  h.systems.clear();  // no mark anywhere: none of them is complete
  const auto plan = plan_retention(h, rules, now + 72h);
  EXPECT_EQ(verdict(plan.backups, "pgdata-20261207-110000.base.tar.zst").kept_by,
            (std::vector<std::string>{"newest"}));
  EXPECT_TRUE(verdict(plan.backups, "pgdata-20261206-120000.base.tar.zst").deleted());
}

TEST(RetentionPlan, AMarkWhoseBackupIsGoneIsNoAnchorAndGoes) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  auto h = three_days();
  h.backups.erase(h.backups.begin() + 1);  // the middle one was deleted by hand
  const auto plan = plan_retention(h, rules, now + 2min);
  const auto& sp = plan.systems[0];
  EXPECT_EQ(sp.anchor, "pgdata-20261205-120000.base.tar.zst");
  EXPECT_EQ(sp.marks_deleted, (std::vector<std::string>{"pgdata-20261206-120000.base.tar.zst"}));
  EXPECT_EQ(deleted_segments(sp), segments(1, 1));
}

TEST(RetentionPlan, WalOfEveryTimelineFromTheAnchorStaysAndOldGapRecordsGo) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  auto h = three_days();
  auto& s = h.systems[0];
  for (std::uint64_t n = 20; n <= 45; ++n)
    s.segments.push_back(segment(2, n));  // a promotion at segment 20
  s.gaps = {{1, 5 * seg, 6 * seg}, {1, 16 * seg, 17 * seg}};
  const auto plan = plan_retention(h, rules, now + 2min);
  const auto& sp = plan.systems[0];
  for (std::uint64_t n = 20; n <= 45; ++n)
    EXPECT_FALSE(verdict(sp.segments, segment(2, n)).deleted()) << n;
  ASSERT_EQ(sp.gaps_deleted.size(), 1u);
  EXPECT_EQ(sp.gaps_deleted[0].from, 5 * seg);
}

TEST(RetentionPlan, ARecoveryIntoTheArchiveKeepsItsBranchAndTheNewerBackupOnIt) {
  retention_settings rules;
  rules.pitr_keep_days = 1;
  auto h = three_days();
  auto& s = h.systems[0];
  // A recovery branched timeline 2 off at segment 8; its base backup started at segment 10,
  // below the anchor's start, and one more on it is still uploading (no mark yet).
  for (std::uint64_t n = 8; n <= 45; ++n)
    s.segments.push_back(segment(2, n));
  h.backups.push_back(base("pgdata-20261207-113000.base.tar.zst", now - 30min));
  auto branch = mark("pgdata-20261207-113000.base.tar.zst", 10, 11, now - 29min);
  branch.timeline = 2;
  s.marks.push_back(branch);
  s.gaps = {{2, 8 * seg, 9 * seg}};
  const auto plan = plan_retention(h, rules, now + 2min);
  const auto& sp = plan.systems[0];
  EXPECT_EQ(sp.anchor, "pgdata-20261206-120000.base.tar.zst");
  EXPECT_EQ(sp.kept_from, 10 * seg + 0x28) << "the lowest start of the anchor and newer ones";
  EXPECT_EQ(deleted_segments(sp), segments(1, 9));
  EXPECT_EQ(verdict(sp.segments, segment(2, 8)).kept_by,
            (std::vector<std::string>{"a timeline after the anchor's"}));
  EXPECT_TRUE(sp.gaps_deleted.empty()) << "the branch's gap record stays";
}

TEST(RetentionPlan, FutureDatedBackupsAreKeptAndSaySo) {
  retention_settings rules;
  rules.gfs.keep_days = 1;
  client_holdings h;
  h.client = "app";
  h.backups = {{"app-20261210-020000.dump", "app", backup_kind::dump, now + 72h},
               {"app-20261207-020000.dump", "app", backup_kind::dump, now - 10h},
               {"app-20261201-020000.dump", "app", backup_kind::dump, now - 24h * 6}};
  const auto plan = plan_retention(h, rules, now);
  EXPECT_EQ(verdict(plan.backups, "app-20261210-020000.dump").kept_by,
            (std::vector<std::string>{"dated in the future"}));
  EXPECT_EQ(verdict(plan.backups, "app-20261207-020000.dump").kept_by,
            (std::vector<std::string>{"newest", "day"}));
  EXPECT_TRUE(verdict(plan.backups, "app-20261201-020000.dump").deleted());
}

}  // namespace
}  // namespace pgship::test

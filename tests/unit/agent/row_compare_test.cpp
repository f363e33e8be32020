// The drill's verdict: what counts as the restored database matching the dump.

#include "drill/row_compare.hpp"

#include <gtest/gtest.h>

namespace pgship::agent {
namespace {

using kind = row_mismatch::kind;

const std::vector<table_rows> dumped = {
    {"public", "accounts", 100}, {"public", "trades", 1500000}, {"audit", "Odd Name", 7}};

TEST(row_compare_test, TheSameTablesAndCountsInAnyOrderMatch) {
  const std::vector<table_rows> restored = {
      {"audit", "Odd Name", 7}, {"public", "trades", 1500000}, {"public", "accounts", 100}};
  EXPECT_TRUE(compare_rows(dumped, restored).empty());
  EXPECT_TRUE(compare_rows({}, {}).empty());
}

TEST(row_compare_test, AMissingTableIsNamedWithItsExpectedRows) {
  const std::vector<table_rows> restored = {{"public", "accounts", 100}, {"audit", "Odd Name", 7}};
  const auto found = compare_rows(dumped, restored);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, kind::missing);
  EXPECT_EQ(found[0].table, "public.trades");
  EXPECT_EQ(describe(found[0]), "public.trades: in the backup (1500000 rows) but not restored");
}

TEST(row_compare_test, AnExtraTableIsNamedWithItsRestoredRows) {
  auto restored = dumped;
  restored.push_back({"public", "ghost", 3});
  const auto found = compare_rows(dumped, restored);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, kind::extra);
  EXPECT_EQ(describe(found[0]),
            "public.ghost: restored (3 rows) but not in the backup's table list");
}

TEST(row_compare_test, ADifferingCountNamesBothNumbers) {
  auto restored = dumped;
  restored[1].rows = 1499999;
  const auto found = compare_rows(dumped, restored);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, kind::count);
  EXPECT_EQ(found[0].expected, 1500000u);
  EXPECT_EQ(found[0].restored, 1499999u);
  EXPECT_EQ(describe(found[0]), "public.trades: 1500000 rows in the backup, 1499999 restored");
}

TEST(row_compare_test, EstimatesCompareOnlyTheSetOfTables) {
  auto restored = dumped;
  restored[1].rows = 1;
  EXPECT_TRUE(compare_rows(dumped, restored, false).empty());
  restored.pop_back();
  const auto found = compare_rows(dumped, restored, false);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, kind::missing);
}

TEST(row_compare_test, SchemaAndNameAreKeptApartNotJoinedIntoOneString) {
  // "a.b"."c" and "a"."b.c" print alike but are two tables.
  const std::vector<table_rows> want = {{"a.b", "c", 1}};
  const std::vector<table_rows> got = {{"a", "b.c", 1}};
  const auto found = compare_rows(want, got);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NE(found[0].what, found[1].what);
}

TEST(row_compare_test, EveryKindIsReportedTogetherInTableOrder) {
  const std::vector<table_rows> restored = {
      {"audit", "Odd Name", 8}, {"public", "accounts", 100}, {"public", "zz_new", 1}};
  const auto found = compare_rows(dumped, restored);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].table, "audit.Odd Name");
  EXPECT_EQ(found[0].what, kind::count);
  EXPECT_EQ(found[1].table, "public.trades");
  EXPECT_EQ(found[1].what, kind::missing);
  EXPECT_EQ(found[2].table, "public.zz_new");
  EXPECT_EQ(found[2].what, kind::extra);
}

}  // namespace
}  // namespace pgship::agent

namespace pgship::agent {
namespace {

TEST(row_compare_test, ACountTheBackupCouldNotTakeIsOnlyCheckedToBeThere) {
  const std::vector<table_rows> expected = {
      {"public", "trades", 0, "hypertable", "chunk 12 has no dimension slices"},
      {"public", "accounts", 100}};
  std::vector<table_rows> restored = {{"public", "trades", 4242, "hypertable"},
                                      {"public", "accounts", 100}};
  EXPECT_TRUE(compare_rows(expected, restored).empty());
  restored.erase(restored.begin());
  const auto found = compare_rows(expected, restored);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, row_mismatch::kind::missing);
}

TEST(row_compare_test, ARestoredTableThatCannotBeCountedIsADifference) {
  const std::vector<table_rows> expected = {{"public", "trades", 10, "hypertable"}};
  const std::vector<table_rows> restored = {
      {"public", "trades", 0, "hypertable", "permission denied for table trades"}};
  const auto found = compare_rows(expected, restored);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].what, row_mismatch::kind::uncounted);
  EXPECT_EQ(describe(found[0]),
            "public.trades: 10 rows in the backup, and the restored copy cannot be counted: "
            "permission denied for table trades");
}

timescaledb_facts platform() {
  timescaledb_facts ts;
  ts.version = "2.28.3";
  ts.hypertables = {{"public", "trades", 21, 13}, {"public", "quotes", 21, 0}};
  ts.jobs = {{1000, "_timescaledb_functions.policy_compression", "public.trades", "12:00:00", true},
             {1001, "_timescaledb_functions.policy_retention", "public.trades", "1 day", false}};
  return ts;
}

TEST(row_compare_test, TimescaleDBFactsRestoredAsTheyWereMatch) {
  EXPECT_TRUE(compare_timescaledb(platform(), platform()).empty());
}

TEST(row_compare_test, ChunksDecompressedOrJobsRescheduledAreDifferences) {
  auto got = platform();
  got.hypertables[0].compressed_chunks = 0;  // restored uncompressed
  got.jobs[1].scheduled = true;              // a paused job came back running
  got.hypertables.pop_back();
  const auto found = compare_timescaledb(platform(), got);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0], "public.trades: 21 chunks (13 compressed) in the backup, 21 (0) restored");
  EXPECT_EQ(found[1], "public.quotes: a hypertable in the backup, not in the restored copy");
  EXPECT_EQ(found[2],
            "TimescaleDB job 1001 (_timescaledb_functions.policy_retention) is not restored as "
            "the backup had it");
}

}  // namespace
}  // namespace pgship::agent

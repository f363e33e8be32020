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

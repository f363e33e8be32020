// `wal verify`'s judgement (wal/archive_continuity.hpp): holes between a timeline's held ranges
// are gaps, the step from one timeline to the next is not, and the text names them as
// operators read positions.

#include "wal/archive_continuity.hpp"

#include <gtest/gtest.h>

namespace pgship::test {
namespace {

using agent::wal::check_continuity;
using agent::wal::describe;
using agent::wal::timeline_span;
using agent::wal::wal_hole;
using wire::wal::archive_state;

archive_state state_of(std::vector<wire::wal::timeline_state> timelines) {
  archive_state s;
  s.system = "7000000000000000001";
  s.segment_size = 1 << 20;
  s.timelines = std::move(timelines);
  return s;
}

TEST(ArchiveContinuity, OneContiguousRunIsNoGap) {
  const auto c = check_continuity(state_of({{1, {{0x1000000, 0x5A00000}}, false}}));
  EXPECT_TRUE(c.ok());
  ASSERT_EQ(c.spans.size(), 1u);
  EXPECT_EQ(c.spans[0], (timeline_span{1, 0x1000000, 0x5A00000}));
  EXPECT_EQ(describe(c.spans[0]), "timeline 1: 0/1000000 \u2013 0/5A00000");
}

TEST(ArchiveContinuity, EveryHoleBetweenRangesIsNamed) {
  const auto c = check_continuity(state_of(
      {{1, {{0x1000000, 0x5000000}, {0x5800000, 0x6000000}, {0x6100000, 0x7000000}}, false}}));
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.holes.size(), 2u);
  EXPECT_EQ(c.holes[0], (wal_hole{1, 0x5000000, 0x5800000, ""}));
  EXPECT_EQ(describe(c.holes[0]), "timeline 1: 0/5000000 \u2013 0/5800000");
  EXPECT_EQ(c.holes[1], (wal_hole{1, 0x6000000, 0x6100000, ""}));
  EXPECT_EQ(c.spans[0], (timeline_span{1, 0x1000000, 0x7000000}));
}

TEST(ArchiveContinuity, TheNextTimelineStartingBeforeTheSwitchIsNoGap) {
  // Timeline 2 starts at the segment start of the switch point, before timeline 1's end.
  const auto c = check_continuity(
      state_of({{1, {{0x1000000, 0x3080000}}, false}, {2, {{0x3000000, 0x4000000}}, true}}));
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.spans.size(), 2u);
}

TEST(ArchiveContinuity, HolesAreJudgedPerTimeline) {
  const auto c =
      check_continuity(state_of({{1, {{0x1000000, 0x2000000}}, false},
                                 {2, {{0x2000000, 0x2100000}, {0x2300000, 0x2400000}}, true},
                                 {3, {}, true}}));
  ASSERT_EQ(c.holes.size(), 1u);
  EXPECT_EQ(c.holes[0], (wal_hole{2, 0x2100000, 0x2300000, ""}));
  EXPECT_EQ(c.spans.size(), 2u) << "a timeline with only its history file has no span";
}

TEST(ArchiveContinuity, AnEmptyArchiveIsNotOk) {
  EXPECT_FALSE(check_continuity(state_of({})).ok());
  EXPECT_FALSE(check_continuity(state_of({{2, {}, true}})).ok());
}

TEST(ArchiveContinuity, AHoleWithAReasonSaysIt) {
  EXPECT_EQ(describe(wal_hole{1, 0x5000000, 0x5800000, "slot lost WAL"}),
            "timeline 1: 0/5000000 \u2013 0/5800000 (slot lost WAL)");
}

TEST(ArchiveContinuity, StartsAtTheOldestCompleteBaseBackupAndNamesRecordedGaps) {
  auto state = state_of({{1, {{0x1000000, 0x2000000}, {0x2400000, 0x6000000}}, false}});
  // A base backup after the hole: the hole before it restores nothing and is not judged.
  state.basebackups = {{"pgdata-20260101-000200.base.tar", 1, 0x5000000, 0x5100000, 2},
                       {"pgdata-20260101-000100.base.tar", 1, 0x3000000, 0x3100000, 1}};
  auto c = check_continuity(state);
  EXPECT_TRUE(c.ok());
  ASSERT_TRUE(c.from_backup);
  EXPECT_EQ(c.from_backup->id, "pgdata-20260101-000100.base.tar");
  EXPECT_EQ(c.spans.at(0), (timeline_span{1, 0x3000000, 0x6000000}));
  // A gap recorded after it, where the ranges show a hole, names the hole's reason; one the
  // ranges cannot show (on a timeline with no WAL yet) is listed on its own.
  state.timelines[0].ranges = {{0x1000000, 0x4000000}, {0x4400000, 0x6000000}};
  state.gaps = {{1, 0x4000000, 0x4400000, "slot_lost", "2026-01-01T00:00:00Z"},
                {1, 0x1800000, 0x1900000, "wal_removed", "2026-01-01T00:00:00Z"},
                {2, 0x7000000, 0x7100000, "wal_removed", "2026-01-01T00:00:00Z"}};
  c = check_continuity(state);
  ASSERT_EQ(c.holes.size(), 2u) << "the gap before the base backup is not judged";
  EXPECT_EQ(c.holes[0], (wal_hole{1, 0x4000000, 0x4400000, "slot_lost"}));
  EXPECT_EQ(c.holes[1], (wal_hole{2, 0x7000000, 0x7100000, "wal_removed"}));
}

}  // namespace
}  // namespace pgship::test

// Where a replication session starts (design §2.2 step 4) and the history files it reads.

#include "wal/start_point.hpp"

#include <gtest/gtest.h>

#include "wal/timeline_history.hpp"

namespace pgship::agent::wal {
namespace {

constexpr std::uint64_t mib = 1 << 20;

timeline_history history_of_3() {
  std::string why;
  auto h = parse_timeline_history(
      3, "1\t0/3000100\tno recovery target specified\n\n2\t0/5000200\tbefore 2000-01-01\n", why);
  EXPECT_TRUE(h) << why;
  return *h;
}

TEST(TimelineHistory, ParsesAncestorsAndSaysWhichTimelineHoldsAPosition) {
  const auto h = history_of_3();
  ASSERT_EQ(h.ancestors.size(), 2u);
  EXPECT_EQ(h.ancestors[0], (timeline_switch{1, 0x3000100}));
  EXPECT_EQ(h.end_of(2), 0x5000200u);
  EXPECT_FALSE(h.end_of(3));
  EXPECT_EQ(h.after(1), 2u);
  EXPECT_EQ(h.after(2), 3u);
  EXPECT_FALSE(h.after(3));
  EXPECT_EQ(h.timeline_of(0x30000FF), 1u);
  EXPECT_EQ(h.timeline_of(0x3000100), 2u);
  EXPECT_EQ(h.timeline_of(0x9000000), 3u);
  EXPECT_TRUE(h.knows(1));
  EXPECT_FALSE(h.knows(4));
}

TEST(TimelineHistory, RefusesLinesThatAreNotAHistory) {
  std::string why;
  EXPECT_FALSE(parse_timeline_history(2, "one 0/300\n", why));
  EXPECT_FALSE(parse_timeline_history(2, "2\t0/3000000\tnot an ancestor\n", why));
  EXPECT_FALSE(parse_timeline_history(3, "1\t0/5000000\tx\n2\t0/3000000\tbackwards\n", why));
  EXPECT_FALSE(parse_timeline_history(2, "1\tnowhere\n", why));
  EXPECT_TRUE(parse_timeline_history(1, "", why));
}

start_inputs inputs(timeline_history h, lsn restart, std::optional<resume_point> archived) {
  start_inputs in;
  in.server = std::move(h);
  in.server_end = 0x9000000;
  in.segment_size = mib;
  in.slot_restart = restart;
  in.archived = archived;
  return in;
}

TEST(StartPoint, EmptyArchiveStartsAtTheSlotsSegmentOnItsTimeline) {
  auto d = choose_start(inputs(history_of_3(), 0x3000180, std::nullopt));
  EXPECT_EQ(d.timeline, 2u);
  EXPECT_EQ(d.start, 0x3000000u);
  EXPECT_FALSE(d.gap);
  EXPECT_TRUE(d.conflict.empty());
}

TEST(StartPoint, ResumesAtTheArchivesEndOnAnOldTimelineBeforeItsSwitch) {
  auto d = choose_start(inputs(history_of_3(), 0x2000000, resume_point{1, 0x2800000}));
  EXPECT_EQ(d.timeline, 1u);
  EXPECT_EQ(d.start, 0x2800000u);
  EXPECT_FALSE(d.gap);
}

TEST(StartPoint, AtTheSwitchGoesOnAtItsSegmentStartOnTheNextTimeline) {
  auto d = choose_start(inputs(history_of_3(), 0x3000000, resume_point{1, 0x3000100}));
  EXPECT_EQ(d.timeline, 2u);
  EXPECT_EQ(d.start, 0x3000000u);
  // Both switches passed: timeline 3 from the segment of its switch.
  d = choose_start(inputs(history_of_3(), 0x3000000, resume_point{2, 0x5000200}));
  EXPECT_EQ(d.timeline, 3u);
  EXPECT_EQ(d.start, 0x5000000u);
  EXPECT_FALSE(d.gap);
}

TEST(StartPoint, BehindTheSlotsSegmentIsAGapToWhereTheServersWalBegins) {
  auto d = choose_start(inputs(history_of_3(), 0x6000010, resume_point{1, 0x2800000}));
  EXPECT_EQ(d.timeline, 3u);
  EXPECT_EQ(d.start, 0x6000000u);
  ASSERT_TRUE(d.gap);
  EXPECT_EQ(d.gap->from, 0x2800000u);
  EXPECT_EQ(d.gap->to, 0x6000000u);
  EXPECT_EQ(d.gap->timeline, 3u);
  // Inside the slot's segment is no gap: the server keeps whole segments.
  d = choose_start(inputs(history_of_3(), 0x6000010, resume_point{3, 0x6000004}));
  EXPECT_FALSE(d.gap);
  EXPECT_EQ(d.start, 0x6000004u);
}

TEST(StartPoint, AnArchivePastTheSwitchIsABranchTheStreamGoesOnFrom) {
  // Timeline 1 archived past 0/3000100, where the server's timeline 2 left it (the server was
  // recovered to an earlier moment): timeline 2 from the segment of the switch.
  auto d = choose_start(inputs(history_of_3(), 0x3000000, resume_point{1, 0x3000200}));
  EXPECT_TRUE(d.conflict.empty()) << d.conflict;
  EXPECT_NE(d.branched.find("past 0/3000100"), std::string::npos) << d.branched;
  EXPECT_EQ(d.timeline, 2u);
  EXPECT_EQ(d.start, 0x3000000u);
  EXPECT_FALSE(d.gap);
  // Past both switches: timeline 3 from the segment of its switch.
  d = choose_start(inputs(history_of_3(), 0x5000000, resume_point{2, 0x5800000}));
  EXPECT_TRUE(d.conflict.empty()) << d.conflict;
  EXPECT_EQ(d.timeline, 3u);
  EXPECT_EQ(d.start, 0x5000000u);
}

TEST(StartPoint, RefusesAnArchiveOfAnotherHistory) {
  // The newest archived timeline is none of the server's, or the server's own goes past its end.
  EXPECT_FALSE(choose_start(inputs(history_of_3(), 0, resume_point{4, 0x100})).conflict.empty());
  EXPECT_FALSE(
      choose_start(inputs(history_of_3(), 0, resume_point{3, 0x9000001})).conflict.empty());
}

}  // namespace
}  // namespace pgship::agent::wal

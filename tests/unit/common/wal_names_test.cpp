#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::wal {
namespace {

constexpr std::uint64_t mib = 1u << 20;

TEST(WalNames, LsnTextRoundTrips) {
  EXPECT_EQ(format_lsn(0x16B374D848ull), "16/B374D848");
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(parse_lsn("16/B374D848"), 0x16B374D848ull);
  EXPECT_EQ(parse_lsn("0/3000028"), 0x3000028ull);
  for (auto bad : {"", "/", "1/", "/1", "1/G", "123456789/0", "1/2/3", " 1/2", "1/-2"})
    EXPECT_FALSE(parse_lsn(bad).has_value()) << bad;
}

TEST(WalNames, SegmentNamesFollowTheSegmentSize) {
  // 16 MiB: 256 segments per "log id"; 1 MiB: 4096.
  EXPECT_EQ(segment_name({1, 3}, 16 * mib), "000000010000000000000003");
  EXPECT_EQ(segment_name({1, 256}, 16 * mib), "000000010000000100000000");
  EXPECT_EQ(segment_name({2, 4097}, mib), "000000020000000100000001");
  EXPECT_EQ(segment_name({1, 5}, 1024 * mib), "000000010000000100000001");
  EXPECT_EQ(parse_segment_name("000000020000000100000001", mib), (segment_id{2, 4097}));
  EXPECT_EQ(parse_segment_name("000000010000000100000000", 16 * mib), (segment_id{1, 256}));
  // Past the segments of one log id, lower case, timeline 0, wrong length.
  EXPECT_FALSE(parse_segment_name("000000010000000000000100", 16 * mib));
  EXPECT_FALSE(parse_segment_name("00000001000000000000000a", 16 * mib));
  EXPECT_FALSE(parse_segment_name("000000000000000000000001", 16 * mib));
  EXPECT_FALSE(parse_segment_name("00000001000000000000001", 16 * mib));
  EXPECT_EQ(segment_of(1, 0x3400028, mib), (segment_id{1, 0x34}));
}

TEST(WalNames, SegmentSizesArePowersOfTwoFromOneMibToOneGib) {
  EXPECT_TRUE(valid_segment_size(mib));
  EXPECT_TRUE(valid_segment_size(16 * mib));
  EXPECT_TRUE(valid_segment_size(1024 * mib));
  EXPECT_FALSE(valid_segment_size(0));
  EXPECT_FALSE(valid_segment_size(mib / 2));
  EXPECT_FALSE(valid_segment_size(3 * mib));
  EXPECT_FALSE(valid_segment_size(2048 * mib));
}

TEST(WalNames, UnitNamesCarryOffsetsAndCodecs) {
  auto unit = parse_unit_name("000000010000000000000003.00400000-01000000.zst.age");
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->segment, "000000010000000000000003");
  EXPECT_EQ(unit->start, 0x400000u);
  EXPECT_EQ(unit->end, 0x1000000u);
  EXPECT_TRUE(unit->format.compressed());
  EXPECT_TRUE(unit->format.encrypted());
  EXPECT_EQ(unit->stem(), "000000010000000000000003.00400000-01000000");
  EXPECT_EQ(unit->file_name(), "000000010000000000000003.00400000-01000000.zst.age");

  auto plain = parse_unit_name("000000010000000000000003.00000000-00000100");
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->format.as_produced());

  for (auto bad : {"000000010000000000000003.00000100-00000100",  // empty
                   "000000010000000000000003.00000200-00000100",  // backwards
                   "000000010000000000000003.00000000-40000001",  // past 1 GiB
                   "000000010000000000000003.0000000a-00000100",  // lower case
                   "000000010000000000000003.00000000-00000100.age.zst",
                   "000000010000000000000003.00000000-00000100.gz",
                   "000000010000000000000003.00000000-00000100.zst.age.age",
                   "000000010000000000000003", "00000002.history", "../etc/passwd"})
    EXPECT_FALSE(parse_unit_name(bad)) << bad;
}

TEST(WalNames, HistoryFiles) {
  EXPECT_EQ(history_name(2), "00000002.history");
  EXPECT_EQ(history_name(0x1A), "0000001A.history");
  EXPECT_EQ(parse_history_name("0000001A.history"), 0x1Au);
  EXPECT_FALSE(parse_history_name("00000000.history"));
  EXPECT_FALSE(parse_history_name("0000001a.history"));
  auto stored = parse_history_file("00000002.history.zst.age");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->timeline, 2u);
  EXPECT_TRUE(stored->format.encrypted());
  EXPECT_FALSE(parse_history_file("00000002.history.age.zst"));
}

TEST(WireWal, ListBodyRoundTrips) {
  wire::wal::segment_list list{mib,
                               wire::wal::list_state::partial,
                               {{"000000010000000000000003.00000000-00004000.zst.age", 0},
                                {"000000010000000000000003.00002000-00008000.zst.age", 0x2000}}};
  auto text = wire::wal::encode_list(list);
  EXPECT_EQ(text.substr(0, text.find('\n')), "pgship-wal-list 1 1048576 partial");
  EXPECT_EQ(wire::wal::decode_list(text), list);
  EXPECT_FALSE(wire::wal::decode_list("pgship-wal-list 2 1048576 partial\n"));
  EXPECT_FALSE(wire::wal::decode_list("pgship-wal-list 1 1048576 partial"));
  EXPECT_FALSE(wire::wal::decode_list("pgship-wal-list 1 1048576 odd\n"));
}

TEST(WireWal, BundleHeadRoundTripsAndEndsWithAnEmptyLine) {
  wire::wal::bundle_head head{1048576, wire::wal::list_state::partial, {}};
  head.units.push_back(
      {"000000010000000000000003.00000000-00002000.zst", 0, 812, sha256_of("a"), sha256_of("b")});
  head.units.push_back({"000000010000000000000003.00002000-00008000.zst.age", 0x2000, 4096,
                        sha256_of("c"), sha256_of("d")});
  const auto text = wire::wal::encode_bundle_head(head);
  EXPECT_EQ(text.substr(0, text.find('\n')), "pgship-wal-bundle 1 1048576 partial");
  ASSERT_TRUE(text.ends_with("\n\n"));
  EXPECT_EQ(wire::wal::decode_bundle_head(text.substr(0, text.size() - 1)), head);
  EXPECT_EQ(wire::wal::bundle_path("7", "00000002.history"), "/api/wal/7/bundles/00000002.history");
  EXPECT_FALSE(wire::wal::decode_bundle_head("pgship-wal-bundle 1 1048576 partial"));
  EXPECT_FALSE(wire::wal::decode_bundle_head("pgship-wal-bundle 2 1048576 partial\n"));
  EXPECT_FALSE(wire::wal::decode_bundle_head("pgship-wal-bundle 1 1048576  partial\n"));
  EXPECT_FALSE(
      wire::wal::decode_bundle_head("pgship-wal-bundle 1 1048576 partial\nu 0 12 zz yy\n"));
  EXPECT_FALSE(wire::wal::decode_bundle_head(""));
}

TEST(WireWal, TimeMapRoundTrips) {
  std::vector<wire::wal::time_sample> samples{{1765000000123, 0x3000028},
                                              {1765000001123, 0x3004000}};
  auto text = wire::wal::encode_time_map(samples);
  EXPECT_EQ(text, "1765000000123@0/3000028,1765000001123@0/3004000");
  EXPECT_EQ(wire::wal::decode_time_map(text), samples);
  EXPECT_EQ(wire::wal::decode_time_map("")->size(), 0u);
  EXPECT_FALSE(wire::wal::decode_time_map("12@0/1,"));
  EXPECT_FALSE(wire::wal::decode_time_map("12@x"));
}

TEST(WireWal, StateRoundTripsAndNamesTheDurableEnd) {
  wire::wal::archive_state state{"7311234567890123456", 16 * mib, {}};
  EXPECT_FALSE(state.durable_end());
  state.timelines.push_back({1, {{0x1000000, 0x3000000}, {0x5000000, 0x5004000}}, false});
  state.timelines.push_back({2, {}, true});
  EXPECT_EQ(state.durable_end(), (wire::wal::archive_state::position{1, 0x5004000}));
  EXPECT_EQ(wire::wal::decode_state(wire::wal::encode_state(state)), state);
  EXPECT_TRUE(wire::wal::is_system_id("7311234567890123456"));
  EXPECT_FALSE(wire::wal::is_system_id("99999999999999999999"));  // past uint64
  EXPECT_FALSE(wire::wal::is_system_id("12a"));
  EXPECT_EQ(wire::wal::unit_path("7", "u"), "/api/wal/7/units/u");
}

}  // namespace
}  // namespace pgship::wal

namespace pgship {
namespace {

TEST(WalWireGaps, GapsRoundTripInTheStateAndAlone) {
  wire::wal::gap_record gap{1, 0x3000000, 0x5000000, "slot_lost", "2026-01-02T03:04:05.000Z"};
  EXPECT_EQ(wire::wal::decode_gap(wire::wal::encode_gap(gap)), gap);
  wire::wal::archive_state state{"7311234567890123456", 1 << 20, {}, {gap}};
  EXPECT_EQ(wire::wal::decode_state(wire::wal::encode_state(state)), state);
  EXPECT_EQ(wire::wal::gaps_path("7"), "/api/wal/7/gaps");
  // from must be below to; a reason is required.
  EXPECT_FALSE(wire::wal::decode_gap(
      R"({"timeline":1,"from":"0/5000000","to":"0/3000000","reason":"x","detected_at":""})"));
  EXPECT_FALSE(wire::wal::decode_gap(
      R"({"timeline":1,"from":"0/3000000","to":"0/5000000","reason":"","detected_at":""})"));
  EXPECT_FALSE(wire::wal::decode_gap("[]"));
  // A state without gaps (an older receiver) reads as none.
  auto old = wire::wal::decode_state(R"({"system":"7","segment_size":1048576,"timelines":[]})");
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->gaps.empty());
}

}  // namespace
}  // namespace pgship

namespace pgship {
namespace {

TEST(WalWireMarks, MarksAndTheWindowRoundTrip) {
  const wire::wal::basebackup_mark mark{"pgdata-20260102-030405.base.tar.zst", 2, 0x3000028,
                                        0x3000100, 1767323045123};
  EXPECT_EQ(wire::wal::decode_mark(wire::wal::encode_mark(mark)), mark);
  EXPECT_EQ(wire::wal::basebackup_mark_path("7", mark.id),
            "/api/wal/7/basebackups/pgdata-20260102-030405.base.tar.zst");
  // The agent's body: no id, the stop time as UTC text with milliseconds.
  const auto body =
      wire::wal::decode_mark(R"({"timeline":2,"start_lsn":"0/3000028","stop_lsn":"0/3000100",)"
                             R"("stop_time":"2026-01-02T03:04:05.123Z"})");
  ASSERT_TRUE(body);
  EXPECT_EQ(body->id, "");
  EXPECT_EQ(body->stop_time_ms, 1767323045123);
  EXPECT_FALSE(wire::wal::decode_mark(
      R"({"timeline":2,"start_lsn":"0/3000200","stop_lsn":"0/3000100","stop_time":1})"))
      << "start after stop";
  EXPECT_FALSE(
      wire::wal::decode_mark(R"({"timeline":0,"start_lsn":"0/1","stop_lsn":"0/2","stop_time":1})"));
  EXPECT_FALSE(wire::wal::decode_mark(
      R"({"timeline":1,"start_lsn":"0/1","stop_lsn":"0/2","stop_time":"yesterday"})"));

  wire::wal::archive_state state{"7311234567890123456",
                                 1 << 20,
                                 {},
                                 {},
                                 {mark},
                                 wire::wal::pitr_window{1767323045123, 1767323099000}};
  EXPECT_EQ(wire::wal::decode_state(wire::wal::encode_state(state)), state);
  state.pitr.reset();
  EXPECT_EQ(wire::wal::decode_state(wire::wal::encode_state(state)), state);
  const auto old =
      wire::wal::decode_state(R"({"system":"7","segment_size":1048576,"timelines":[],"gaps":[]})");
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->basebackups.empty());
  EXPECT_FALSE(old->pitr);
}

}  // namespace
}  // namespace pgship

// The chain of units restore_command joins for one segment (api/wal/segment_chain.hpp), and the
// archive's index of LSN ranges (state/wal_index.hpp) that says whether WAL lies beyond it.

#include "api/wal/segment_chain.hpp"

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "state/wal_index.hpp"
#include "storage/memory/memory_wal_store.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

using namespace receiver;

constexpr std::uint64_t seg = 0x1000000;  // 16 MiB

chain_unit u(std::uint32_t start, std::uint32_t end, std::string suffix = "") {
  char name[64];
  std::snprintf(name, sizeof name, "000000010000000000000003.%08X-%08X", start, end);
  return {name + suffix, start, end};
}

std::vector<std::uint32_t> starts(const segment_chain& c) {
  std::vector<std::uint32_t> out;
  for (const auto& x : c.units)
    out.push_back(x.start);
  return out;
}

TEST(SegmentChain, OneWholeUnitIsComplete) {
  const auto c = choose_chain({u(0, seg)}, seg, false);
  EXPECT_EQ(c.verdict, chain_verdict::complete);
  EXPECT_EQ(c.units, std::vector<chain_unit>{u(0, seg)});
}

TEST(SegmentChain, ContiguousUnitsJoinInOrderWhateverTheirListingOrder) {
  const auto c = choose_chain({u(0x800000, seg), u(0, 0x400000), u(0x400000, 0x800000)}, seg, true);
  EXPECT_EQ(c.verdict, chain_verdict::complete);
  EXPECT_EQ(starts(c), (std::vector<std::uint32_t>{0, 0x400000, 0x800000}));
}

TEST(SegmentChain, OverlapsTakeTheUnitReachingFurthest) {
  // A restart cut [0, 0x300000) differently: the chain needs only two units.
  const auto c = choose_chain({u(0, 0x100000), u(0, 0x300000), u(0x100000, 0x200000),
                               u(0x200000, seg), u(0x280000, 0x900000)},
                              seg, false);
  EXPECT_EQ(c.verdict, chain_verdict::complete);
  EXPECT_EQ(c.units, (std::vector<chain_unit>{u(0, 0x300000), u(0x200000, seg)}));
}

TEST(SegmentChain, OnEqualReachTheLaterStartIsFetched) {
  const auto c = choose_chain(
      {u(0, 0x300000), u(0x100000, 0x200000), u(0x200000, 0x400000), u(0x300000, 0x400000)}, seg,
      false);
  EXPECT_EQ(c.verdict, chain_verdict::partial);
  EXPECT_EQ(starts(c), (std::vector<std::uint32_t>{0, 0x300000}));
  EXPECT_EQ(c.end, 0x400000u);
}

TEST(SegmentChain, TheNewestSegmentStoppingShortIsPartial) {
  const auto c = choose_chain({u(0, 0x2000), u(0x2000, 0x5000, ".zst.age")}, seg, false);
  EXPECT_EQ(c.verdict, chain_verdict::partial);
  EXPECT_EQ(c.end, 0x5000u);
  EXPECT_EQ(c.units.back().file, "000000010000000000000003.00002000-00005000.zst.age");
}

TEST(SegmentChain, StoppingShortWhileLaterWalExistsIsAGap) {
  EXPECT_EQ(choose_chain({u(0, 0x2000)}, seg, true).verdict, chain_verdict::gap);
  // A hole inside the segment, with WAL after it in the same segment.
  const auto c = choose_chain({u(0, 0x2000), u(0x3000, 0x4000)}, seg, false);
  EXPECT_EQ(c.verdict, chain_verdict::gap);
  EXPECT_EQ(c.end, 0x2000u);
}

TEST(SegmentChain, NotStartingAtZeroIsAGap) {
  EXPECT_EQ(choose_chain({u(0x1000, seg)}, seg, false).verdict, chain_verdict::gap);
  EXPECT_EQ(choose_chain({}, seg, false).verdict, chain_verdict::gap);
}

// Names put straight into a memory archive (the index reads names and the system's meta only).
void put_names(memory_wal_store& store, const wal_key& key, const std::vector<std::string>& names,
               const temp_dir& dir) {
  for (const auto& n : names) {
    const auto spooled = dir.path() / "spool";
    write_file(spooled, "x");
    wal_unit_meta meta{sha256_of(n), 1, sha256_of("x"), 1, "", {}};
    ASSERT_TRUE(store.put({key, *parse_wal_file_name(n), spooled, meta}));
  }
}

TEST(WalIndex, MergesRangesPerTimelineAndFollowsNewFiles) {
  temp_dir dir;
  memory_wal_store store;
  wal_index index;
  const wal_key key{"app", "99"};
  EXPECT_FALSE(index.state(store, key).value()) << "no such system";
  ASSERT_TRUE(store.claim_system(key, seg));
  put_names(
      store, key,
      {"000000010000000000000003.00000000-00800000", "000000010000000000000003.00400000-01000000",
       "000000010000000000000004.00000000-00001000", "000000010000000000000006.00000000-00002000",
       "00000002.history", "000000020000000000000006.00002000-00003000.zst"},
      dir);
  const auto state = index.state(store, key).value();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->segment_size, seg);
  ASSERT_EQ(state->timelines.size(), 2u);
  EXPECT_EQ(state->timelines[0].ranges,
            (std::vector<wire::wal::lsn_range>{{0x3000000, 0x4001000}, {0x6000000, 0x6002000}}));
  EXPECT_FALSE(state->timelines[0].history);
  EXPECT_TRUE(state->timelines[1].history);
  EXPECT_EQ(state->timelines[1].ranges,
            (std::vector<wire::wal::lsn_range>{{0x6002000, 0x6003000}}));
  EXPECT_EQ(state->durable_end(), (wire::wal::archive_state::position{2, 0x6003000}));

  EXPECT_TRUE(index.holds_from(store, key, 1, 0x5000000).value());
  EXPECT_FALSE(index.holds_from(store, key, 1, 0x6002000).value());
  // A file stored after the first use counts at once, without a listing.
  index.stored(key, seg, "000000010000000000000004.00001000-01000000");
  index.stored(key, seg, "000000010000000000000005.00000000-01000000");
  const auto merged = index.state(store, key).value();
  EXPECT_EQ(merged->timelines[0].ranges,
            (std::vector<wire::wal::lsn_range>{{0x3000000, 0x6002000}}));
  EXPECT_FALSE(index.holds_from(store, {"other", "99"}, 1, 0).value()) << "per client";
}

}  // namespace
}  // namespace pgship::test

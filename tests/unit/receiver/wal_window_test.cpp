// The PITR window (state/wal_window) from ranges, samples, marks, gaps and switches, and the
// index that keeps it (state/wal_index) over a store.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "state/wal_index.hpp"
#include "state/wal_window.hpp"
#include "storage/memory/memory_wal_store.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

using namespace receiver;
namespace wal_wire = wire::wal;

constexpr std::int64_t t0 = 1767225600000;  // 2026-01-01T00:00:00Z

wal_wire::basebackup_mark backup(std::string id, wal::timeline_id tli, wal::lsn start,
                                 wal::lsn stop, std::int64_t stop_ms) {
  return {std::move(id), tli, start, stop, stop_ms};
}

TEST(WalWindow, NoCompleteBaseBackupNoWindow) {
  window_input in;
  in.ranges[1] = {{0x1000000, 0x5000000}};
  in.samples[1] = {{t0 + 5000, 0x4000000}};
  EXPECT_EQ(compute_window(in), std::nullopt);
  EXPECT_EQ(compute_window(window_input{}), std::nullopt);
}

TEST(WalWindow, FromTheBackupsStopToTheNewestSampleInsideTheRun) {
  window_input in;
  in.ranges[1] = {{0x1000000, 0x5000000}};
  in.samples[1] = {{t0 + 1000, 0x2000000}, {t0 + 9000, 0x4800000}, {t0 + 20000, 0x6000000}};
  in.backups = {backup("pgdata-20260101-000000.base.tar", 1, 0x1800000, 0x1900000, t0 + 500)};
  const auto w = compute_window(in);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->oldest_ms, t0 + 500);
  EXPECT_EQ(w->newest_ms, t0 + 9000) << "a sample past the run's end is not reachable";
}

TEST(WalWindow, TheOldestBackupWhoseWalIsContiguousToTheEnd) {
  window_input in;
  // A hole at [0x3000000, 0x3400000): the first backup cannot reach the newest run.
  in.ranges[1] = {{0x1000000, 0x3000000}, {0x3400000, 0x8000000}};
  in.samples[1] = {{t0 + 60000, 0x7000000}};
  in.backups = {backup("pgdata-20260101-000000.base.tar", 1, 0x1100000, 0x1200000, t0 + 100),
                backup("pgdata-20260101-000100.base.tar", 1, 0x5000000, 0x5100000, t0 + 30000),
                backup("pgdata-20260101-000050.base.tar", 1, 0x3500000, 0x3600000, t0 + 20000)};
  const auto w = compute_window(in);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->oldest_ms, t0 + 20000);
  EXPECT_EQ(w->newest_ms, t0 + 60000);
  EXPECT_FALSE(reaches_newest(in, in.backups[0]));
  EXPECT_TRUE(reaches_newest(in, in.backups[1]));
}

TEST(WalWindow, ARecordedGapIsNeverCrossed) {
  window_input in;
  in.ranges[1] = {{0x1000000, 0x8000000}};
  in.samples[1] = {{t0 + 60000, 0x7000000}};
  in.backups = {backup("pgdata-20260101-000000.base.tar", 1, 0x1100000, 0x1200000, t0 + 100)};
  in.gaps = {{1, 0x4000000, 0x4100000, "slot_lost", "2026-01-01T00:00:10Z"}};
  EXPECT_EQ(compute_window(in), std::nullopt);
  in.backups.push_back(
      backup("pgdata-20260101-000030.base.tar", 1, 0x4200000, 0x4300000, t0 + 30000));
  ASSERT_TRUE(compute_window(in));
  EXPECT_EQ(compute_window(in)->oldest_ms, t0 + 30000) << "the backup after the gap";
}

TEST(WalWindow, WithoutALaterSampleTheWindowIsTheBackupsStop) {
  window_input in;
  in.ranges[1] = {{0x1000000, 0x2000000}};
  in.samples[1] = {{t0 - 5000, 0x1000100}};
  in.backups = {backup("pgdata-20260101-000000.base.tar", 1, 0x1100000, 0x1200000, t0)};
  EXPECT_EQ(compute_window(in), (wal_wire::pitr_window{t0, t0}));
}

TEST(WalWindow, FollowsRecordedTimelineSwitches) {
  window_input in;
  in.ranges[1] = {{0x1000000, 0x3000000}};
  in.ranges[2] = {{0x2000000, 0x6000000}};  // from the switch's segment start
  in.samples[1] = {{t0 + 1000, 0x2500000}};
  in.samples[2] = {{t0 + 9000, 0x5000000}};
  in.backups = {backup("pgdata-20260101-000000.base.tar", 1, 0x1100000, 0x1200000, t0 + 100)};
  // Timeline switches unknown: a backup of timeline 1 does not reach timeline 2's run.
  EXPECT_EQ(compute_window(in), std::nullopt);
  in.switches[2] = {1, 0x2800000};
  EXPECT_EQ(compute_window(in), (wal_wire::pitr_window{t0 + 100, t0 + 9000}));
  // The parent does not hold WAL up to the switch: no way across.
  in.ranges[1] = {{0x1000000, 0x2700000}};
  EXPECT_EQ(compute_window(in), std::nullopt);
}

// The index over a store: samples from units' time maps, gaps and marks update the window.
class WalIndexWindow : public ::testing::Test {
 protected:
  void put(const std::string& file, const std::string& time_map) {
    const auto spooled = dir_.path() / ("u" + std::to_string(++serial_));
    std::ofstream(spooled) << file;
    wal_unit_meta meta;
    meta.plaintext_sha256 = sha256_of(file);
    meta.stored_sha256 = sha256_of(file);
    meta.stored_size = file.size();
    meta.time_map = time_map;
    meta.received_at = std::chrono::system_clock::now();
    ASSERT_TRUE(store_.claim_system(key_, seg));
    ASSERT_TRUE(store_.put({key_, *parse_wal_file_name(file), spooled, meta}));
    index_.stored(key_, seg, file, time_map);
  }
  static constexpr std::uint64_t seg = 16 << 20;  // 16 MiB: segment 1 starts at 0/1000000
  temp_dir dir_;
  memory_wal_store store_;
  wal_key key_{"app", "7000000000000000001"};
  wal_index index_;
  int serial_ = 0;
};

TEST_F(WalIndexWindow, KeepsTheWindowCurrentAndRebuildsItFromTheStore) {
  put("000000010000000000000001.00000000-00080000", "1767225600000@0/1010000");
  ASSERT_TRUE(index_.state(store_, key_).value());  // loaded from here on
  EXPECT_FALSE(index_.state(store_, key_).value()->pitr);
  EXPECT_TRUE(index_.covers(store_, key_, 1, 0x1000100, 0x1080000).value());
  EXPECT_FALSE(index_.covers(store_, key_, 1, 0x1000100, 0x1080001).value());
  EXPECT_FALSE(index_.covers(store_, key_, 2, 0x1000100, 0x1000200).value());
  const wal_wire::basebackup_mark mark{"pgdata-20260101-000000.base.tar", 1, 0x1000100, 0x1040000,
                                       t0 + 100};
  ASSERT_TRUE(store_.put_basebackup_mark(key_, mark));
  index_.marked(key_, mark);
  auto state = index_.state(store_, key_).value();
  ASSERT_TRUE(state->pitr);
  EXPECT_EQ(*state->pitr, (wal_wire::pitr_window{t0 + 100, t0 + 100}));
  EXPECT_EQ(state->basebackups, std::vector<wal_wire::basebackup_mark>{mark});

  put("000000010000000000000001.00080000-00100000", "1767225605000@0/10F0000");
  EXPECT_EQ(index_.state(store_, key_).value()->pitr->newest_ms, t0 + 5000) << "advances";
  EXPECT_EQ(index_.summary(store_, "app").value().pitr->newest_ms, t0 + 5000);
  EXPECT_EQ(index_.summary(store_, "app").value().limiting_gaps, 0u);

  // A gap after the backup limits recovery; one before a later backup no longer does.
  const wal_wire::gap_record gap{1, 0x1100000, 0x1200000, "slot_lost", "2026-01-01T00:01:00Z"};
  ASSERT_TRUE(store_.put_gap(key_, gap));
  index_.gap_recorded(key_, gap);
  put("000000010000000000000002.00000000-00100000", "1767225700000@0/2080000");
  EXPECT_EQ(index_.summary(store_, "app").value().limiting_gaps, 1u);
  EXPECT_EQ(index_.state(store_, key_).value()->pitr, std::nullopt)
      << "the only backup is before the gap";
  const wal_wire::basebackup_mark after{"pgdata-20260101-000200.base.tar", 1, 0x2000100, 0x2010000,
                                        t0 + 120000};
  ASSERT_TRUE(store_.put_basebackup_mark(key_, after));
  index_.marked(key_, after);
  EXPECT_EQ(index_.summary(store_, "app").value().limiting_gaps, 0u);
  EXPECT_EQ(index_.state(store_, key_).value()->pitr,
            (wal_wire::pitr_window{t0 + 120000, t0 + 120000}))
      << "the newest sample is older than the backup's stop";

  // A fresh index (a restart) reads the same window from the store.
  wal_index fresh;
  EXPECT_EQ(fresh.state(store_, key_).value(), index_.state(store_, key_).value());
  EXPECT_FALSE(index_.summary(store_, "nobody").value().has_archive);
}

}  // namespace
}  // namespace pgship::test

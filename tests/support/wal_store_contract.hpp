#pragma once
// The physical archive's store contract (storage/wal_store.hpp), reached as the routes reach
// it, through storage::wal(): create-only by stem across codecs, identical and conflicting
// copies, listings, reads, the system's meta, clients kept apart, and a second instance
// seeing the archive. Included by tests/unit/receiver/wal_store_test.cpp (POSIX tree and
// memory, label `unit`) and tests/integration/storage_contract_test.cpp (S3 on Swift and
// Ceph), each of which instantiates WalStoreContract with its wal_backend kinds.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "process.hpp"
#include "storage/storage.hpp"
#include "storage/wal_store.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace wal_contract {

namespace stdfs = std::filesystem;
using namespace receiver;

inline constexpr std::uint64_t mib = 1024 * 1024;
inline const std::string seg1 = "000000010000000000000003";

/// A kind of backend: `open(dir)` opens an instance on the store that belongs to `dir` (a
/// second call with the same `dir` is a restart, or another replica); nullptr skips it.
struct wal_backend {
  std::string name;
  std::function<std::unique_ptr<storage>(const stdfs::path&)> open;
};

inline void PrintTo(const wal_backend& b, std::ostream* os) {
  *os << b.name;
}

inline std::string wal_backend_name(const ::testing::TestParamInfo<wal_backend>& param_info) {
  return param_info.param.name;
}

class WalStoreContract : public ::testing::TestWithParam<wal_backend> {
 protected:
  void SetUp() override {
    stdfs::create_directories(dir_.path() / ".incoming");
    store_ = GetParam().open(dir_.path());
    if (!store_) GTEST_SKIP() << GetParam().name << " is not among the backends under test";
    ASSERT_NE(store_->wal(), nullptr);
  }
  wal_store& wal() { return *store_->wal(); }

  // Puts `stored` bytes as `file` of (client, system), a plaintext of hash sha256(plain).
  result<wal_put_result> put(const std::string& file, const std::string& stored,
                             const std::string& plain, const std::string& client = "app",
                             const std::string& system = "7000000000000000001") {
    const auto spooled = dir_.path() / ".incoming" / ("wal-" + std::to_string(++serial_) + ".part");
    write_file(spooled, stored);
    const auto name = parse_wal_file_name(file);
    EXPECT_TRUE(name) << file;
    wal_unit_meta meta;
    meta.plaintext_sha256 = sha256_of(plain);
    meta.plaintext_size = plain.size();
    meta.stored_sha256 = sha256_of(stored);
    meta.stored_size = stored.size();
    meta.time_map = "1700000000000@0/3000000";
    meta.received_at = std::chrono::system_clock::now();
    last_spooled_ = spooled;
    return wal().put({{client, system}, *name, spooled, meta});
  }
  std::string read_all(const std::string& file, const std::string& client = "app",
                       std::uint64_t first = 0, std::optional<std::uint64_t> length = {}) {
    const wal_key key{client, "7000000000000000001"};
    const auto name = *parse_wal_file_name(file);
    const auto found = wal().find(key, name);
    if (!found || !*found) return "<missing>";
    auto reader = wal().open_range(key, name, first, length.value_or((*found)->meta.stored_size));
    if (!reader) return "<" + reader.error().message() + ">";
    std::string out;
    std::vector<char> buf(7);
    for (std::size_t got = 0;;) {
      if ((*reader)->read(buf, got)) return "<read error>";
      if (got == 0) break;
      out.append(buf.data(), got);
    }
    return out;
  }
  std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    const auto listed = wal().list_dir({"app", "7000000000000000001"}, dir);
    EXPECT_TRUE(listed);
    if (listed) {
      for (const auto& f : *listed)
        out.push_back(f.name);
    }
    return out;
  }

  temp_dir dir_;
  std::unique_ptr<storage> store_;
  stdfs::path last_spooled_;
  int serial_ = 0;
};

TEST_P(WalStoreContract, AStemIsStoredOnceWhateverItsCodecs) {
  const auto first = put(seg1 + ".00000000-00100000.zst.age", "cipher-1", "wal bytes");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->outcome, wal_put_outcome::created);
  EXPECT_FALSE(stdfs::exists(last_spooled_)) << "the spool file is taken";

  // The same WAL encrypted again (other stored bytes), or sent with other codecs: identical,
  // and the first copy stays.
  for (const auto& other : {seg1 + ".00000000-00100000.zst.age", seg1 + ".00000000-00100000",
                            seg1 + ".00000000-00100000.age"}) {
    const auto again = put(other, "cipher-2 " + other, "wal bytes");
    ASSERT_TRUE(again) << other;
    EXPECT_EQ(again->outcome, wal_put_outcome::identical) << other;
    EXPECT_EQ(again->stored.name, seg1 + ".00000000-00100000.zst.age");
    EXPECT_FALSE(stdfs::exists(last_spooled_)) << "an identical copy's spool file is removed";
  }
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000.zst.age"), "cipher-1");

  // Other plaintext under the stem: a conflict naming what is stored; nothing changes.
  const auto clash = put(seg1 + ".00000000-00100000.zst", "x", "other wal");
  ASSERT_TRUE(clash);
  EXPECT_EQ(clash->outcome, wal_put_outcome::conflict);
  EXPECT_EQ(clash->stored.name, seg1 + ".00000000-00100000.zst.age");
  EXPECT_EQ(clash->stored.meta.plaintext_sha256, sha256_of("wal bytes"));
  EXPECT_EQ(names_in(seg1), std::vector<std::string>{seg1 + ".00000000-00100000.zst.age"});
}

TEST_P(WalStoreContract, OverlappingStemsAreDifferentUnits) {
  ASSERT_TRUE(put(seg1 + ".00000000-00001000", "a", "a"));
  ASSERT_TRUE(put(seg1 + ".00000000-00002000", "ab", "ab"));
  ASSERT_TRUE(put(seg1 + ".00001000-00100000.zst", "c", "c"));
  EXPECT_EQ(names_in(seg1),
            (std::vector<std::string>{seg1 + ".00000000-00001000", seg1 + ".00000000-00002000",
                                      seg1 + ".00001000-00100000.zst"}));
  const auto listed = wal().list_dir({"app", "7000000000000000001"}, seg1);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->at(1).meta.plaintext_sha256, sha256_of("ab"));
  EXPECT_EQ(listed->at(1).meta.stored_size, 2u);
  EXPECT_EQ(listed->at(1).meta.time_map, "1700000000000@0/3000000");
}

TEST_P(WalStoreContract, ReadsReturnTheStoredBytesAndRanges) {
  ASSERT_TRUE(put(seg1 + ".00000000-00100000.age", "0123456789abcdef", "plain"));
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000.age"), "0123456789abcdef");
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000.age", "app", 3, 5), "34567");
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000"), "<missing>") << "find is by exact name";
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000.age", "other-client"), "<missing>");
}

TEST_P(WalStoreContract, HistoryFilesLiveInTheirOwnDirectory) {
  const auto h = put("00000002.history.age", "sealed", "1\t0/5000000\tno recovery target\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->outcome, wal_put_outcome::created);
  EXPECT_EQ(put("00000002.history", "plain", "1\t0/5000000\tno recovery target\n")->outcome,
            wal_put_outcome::identical);
  EXPECT_EQ(names_in("history"), std::vector<std::string>{"00000002.history.age"});
  ASSERT_TRUE(put("000000020000000000000005.00000000-00010000", "u", "u"));
  const auto all = wal().list_names({"app", "7000000000000000001"});
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<std::string>{"00000002.history.age",
                                            "000000020000000000000005.00000000-00010000"}));
}

TEST_P(WalStoreContract, TheSystemsMetaIsCreateOnly) {
  const wal_key key{"app", "42"};
  EXPECT_FALSE(wal().system_meta(key).value());
  const auto first = wal().claim_system(key, 16 * mib);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->segment_size, 16 * mib);
  const auto second = wal().claim_system(key, mib);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->segment_size, 16 * mib) << "the first size stays; the caller compares";
  EXPECT_EQ(wal().system_meta(key).value()->segment_size, 16 * mib);
  EXPECT_FALSE(wal().system_meta({"other", "42"}).value()) << "per client";
  EXPECT_FALSE(wal().claim_system(key, 3 * mib)) << "not a segment size";
}

TEST_P(WalStoreContract, ClientsDoNotSeeEachOthersWal) {
  ASSERT_TRUE(put(seg1 + ".00000000-00100000", "a", "a", "alpha"));
  EXPECT_EQ(put(seg1 + ".00000000-00100000", "b", "b", "beta")->outcome, wal_put_outcome::created);
  EXPECT_EQ(wal().list_names({"gamma", "7000000000000000001"}).value(), std::vector<std::string>{});
}

TEST_P(WalStoreContract, ASecondInstanceSeesTheArchive) {
  ASSERT_TRUE(wal().claim_system({"app", "7000000000000000001"}, mib));
  ASSERT_TRUE(put(seg1 + ".00000000-00100000", "kept", "kept"));
  store_ = GetParam().open(dir_.path());
  EXPECT_EQ(store_->wal()->system_meta({"app", "7000000000000000001"}).value()->segment_size, mib);
  EXPECT_EQ(read_all(seg1 + ".00000000-00100000"), "kept");
}

TEST_P(WalStoreContract, BaseBackupMarksAreCreateOnlyClearRecords) {
  const wal_key key{"app", "7000000000000000001"};
  ASSERT_TRUE(wal().claim_system(key, mib));
  const wire::wal::basebackup_mark mark{"pgdata-20260102-030405.base.tar.zst.age", 1, 0x3000028,
                                        0x3000100, 1767323045123};
  EXPECT_EQ(wal().put_basebackup_mark(key, mark).value(), wal_put_outcome::created);
  EXPECT_EQ(wal().put_basebackup_mark(key, mark).value(), wal_put_outcome::identical);
  auto other = mark;
  other.stop_lsn = 0x3000200;
  EXPECT_EQ(wal().put_basebackup_mark(key, other).value(), wal_put_outcome::conflict);
  auto not_a_base_backup = mark;
  not_a_base_backup.id = "app-20260102-030405.dump";
  EXPECT_FALSE(wal().put_basebackup_mark(key, not_a_base_backup));
  auto second = mark;
  second.id = "pgdata-20260101-000000.base.tar";
  EXPECT_EQ(wal().put_basebackup_mark(key, second).value(), wal_put_outcome::created);
  const std::vector<wire::wal::basebackup_mark> both{second, mark};
  EXPECT_EQ(wal().list_basebackup_marks(key).value(), both) << "by id; the first mark stays";
  EXPECT_TRUE(wal().list_basebackup_marks({"other", key.system}).value().empty());
  EXPECT_EQ(wal().list_names(key).value(), std::vector<std::string>{}) << "marks are not WAL files";
  store_ = GetParam().open(dir_.path());
  EXPECT_EQ(store_->wal()->list_basebackup_marks(key).value(), both) << "after a restart";
}

TEST_P(WalStoreContract, UsageCountsEachStoredFileOncePerClientAndSurvivesARestart) {
  const auto usage_of = [this](const std::string& client) -> std::uint64_t {
    const auto usage = store_->wal()->usage();
    const auto it = usage.find(client);
    return it == usage.end() ? 0 : it->second;
  };
  EXPECT_EQ(usage_of("app"), 0u);
  ASSERT_EQ(put(seg1 + ".00000000-00001000.zst", "12345", "plain")->outcome,
            wal_put_outcome::created);
  ASSERT_EQ(put(seg1 + ".00001000-00002000", "1234567", "other")->outcome,
            wal_put_outcome::created);
  ASSERT_EQ(put("00000002.history", "1\t0/3000000\tx\n", "1\t0/3000000\tx\n")->outcome,
            wal_put_outcome::created);
  EXPECT_EQ(usage_of("app"), 5u + 7u + 14u);
  // The same stem again, identical or not, stores nothing.
  EXPECT_EQ(put(seg1 + ".00000000-00001000", "plain", "plain")->outcome,
            wal_put_outcome::identical);
  EXPECT_EQ(put(seg1 + ".00000000-00001000", "bad", "bad")->outcome, wal_put_outcome::conflict);
  EXPECT_EQ(usage_of("app"), 26u);
  ASSERT_TRUE(put(seg1 + ".00000000-00001000", "abc", "abc", "beta"));
  EXPECT_EQ(usage_of("beta"), 3u);
  EXPECT_EQ(usage_of("app"), 26u);

  store_ = GetParam().open(dir_.path());
  EXPECT_EQ(usage_of("app"), 26u) << "counted again from what is stored";
  EXPECT_EQ(usage_of("beta"), 3u);
  // The backups' usage never holds the archive.
  EXPECT_TRUE(store_->usage().empty());
}

TEST_P(WalStoreContract, GapsAreRecordedOnceAndListedInOrder) {
  const wal_key key{"app", "7000000000000000001"};
  ASSERT_TRUE(wal().claim_system(key, mib));
  const wire::wal::gap_record later{2, 0x9000000, 0xA000000, "slot_lost", "2026-01-02T00:00:00Z"};
  const wire::wal::gap_record first{1, 0x3000000, 0x5000000, "wal_removed", "2026-01-01T00:00:00Z"};
  EXPECT_EQ(wal().put_gap(key, later).value(), wal_put_outcome::created);
  EXPECT_EQ(wal().put_gap(key, first).value(), wal_put_outcome::created);
  auto again = first;
  again.reason = "slot_lost";
  again.detected_at = "2026-01-03T00:00:00Z";
  EXPECT_EQ(wal().put_gap(key, again).value(), wal_put_outcome::identical) << "same range";
  EXPECT_EQ(wal().list_gaps(key).value(), (std::vector<wire::wal::gap_record>{first, later}))
      << "the first record stays";
  EXPECT_EQ(wal().count_gaps("app").value(), 2u);
  EXPECT_EQ(wal().count_gaps("other").value(), 0u);
  EXPECT_TRUE(wal().list_gaps({"other", key.system}).value().empty());
  EXPECT_EQ(wal().list_names(key).value(), std::vector<std::string>{})
      << "gap records are not WAL files";
}

TEST_P(WalStoreContract, RetentionRemovesSegmentsGapsAndMarksAndTheirUsage) {
  const wal_key key{"app", "7000000000000000001"};
  ASSERT_TRUE(wal().claim_system(key, mib));
  const std::string seg4 = "000000010000000000000004";
  ASSERT_TRUE(put(seg1 + ".00000000-00001000.zst", "12345", "plain"));
  ASSERT_TRUE(put(seg1 + ".00001000-00002000", "1234567", "other"));
  ASSERT_TRUE(put(seg4 + ".00000000-00001000", "abc", "abc"));
  ASSERT_TRUE(put("00000002.history", "1\t0/3000000\tx\n", "1\t0/3000000\tx\n"));
  EXPECT_EQ(wal().list_segments(key).value(), (std::vector<std::string>{seg1, seg4}));
  const wire::wal::gap_record gap{1, 0x3000000, 0x4000000, "slot_lost", "2026-01-02T00:00:00Z"};
  ASSERT_TRUE(wal().put_gap(key, gap));
  const wire::wal::basebackup_mark mark{"pgdata-20260102-030405.base.tar.zst", 1, 0x4000028,
                                        0x4000100, 1767323045123};
  ASSERT_TRUE(wal().put_basebackup_mark(key, mark));
  const auto usage_before = wal().usage()["app"];

  EXPECT_FALSE(wal().remove_segment(key, seg1));
  EXPECT_FALSE(wal().remove_segment(key, seg1)) << "what is not there is no error";
  EXPECT_EQ(wal().list_segments(key).value(), (std::vector<std::string>{seg4}));
  EXPECT_EQ(wal().list_names(key).value(),
            (std::vector<std::string>{seg4 + ".00000000-00001000", "00000002.history"}));
  EXPECT_TRUE(names_in(seg1).empty());
  EXPECT_EQ(wal().usage()["app"], usage_before - 12u) << "the removed units' bytes";
  EXPECT_FALSE(wal().remove_gap(key, gap));
  EXPECT_TRUE(wal().list_gaps(key).value().empty());
  EXPECT_FALSE(wal().remove_basebackup_mark(key, mark.id));
  EXPECT_TRUE(wal().list_basebackup_marks(key).value().empty());

  store_ = GetParam().open(dir_.path());
  EXPECT_EQ(store_->wal()->list_segments(key).value(), (std::vector<std::string>{seg4}));
  EXPECT_EQ(store_->wal()->usage()["app"], usage_before - 12u) << "counted again";
  EXPECT_EQ(store_->wal()->list_systems("app").value(),
            (std::vector<std::string>{"7000000000000000001"}));
}

}  // namespace wal_contract
}  // namespace pgship::test

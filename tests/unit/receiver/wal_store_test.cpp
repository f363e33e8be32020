// The physical archive's store contract (tests/support/wal_store_contract.hpp) on the POSIX tree
// and in memory; and, on disk, the layout, the files present once put() returned, and that
// `.wal/` is no client's backups; and how S3 carries a file's meta in its object's headers.

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "storage/memory/memory_storage.hpp"
#include "storage/posix/posix_storage.hpp"
#include "storage/s3/wal_object_meta.hpp"
#include "storage/wal_store.hpp"
#include "temp_dir.hpp"
#include "wal_store_contract.hpp"

namespace pgship::test {
namespace wal_contract {

INSTANTIATE_TEST_SUITE_P(
    Backends, WalStoreContract,
    ::testing::Values(wal_backend{"fs",
                                  [](const stdfs::path& dir) -> std::unique_ptr<storage> {
                                    return std::make_unique<posix_storage>(dir);
                                  }},
                      wal_backend{
                          "memory",
                          [](const stdfs::path& dir) -> std::unique_ptr<storage> {
                            // One bucket per test directory: a second open() is a restart.
                            static std::map<std::string, std::shared_ptr<memory_bucket>> buckets;
                            auto& bucket = buckets[dir.string()];
                            if (!bucket) bucket = std::make_shared<memory_bucket>();
                            return std::make_unique<memory_storage>(bucket);
                          }}),
    wal_backend_name);

}  // namespace wal_contract

namespace {

using namespace wal_contract;

TEST(PosixWalStore, LaysFilesOutAndTheyAreThereOncePutReturns) {
  temp_dir dir;
  posix_storage store(dir.path());
  const wal_key key{"app", "7000000000000000001"};
  ASSERT_TRUE(store.wal()->claim_system(key, mib));
  const auto spooled = dir.path() / ".incoming" / "wal-1.part";
  write_file(spooled, "sealed");
  wal_unit_meta meta{sha256_of("plain"), 5, sha256_of("sealed"), 6, "", {}};
  const auto name = *parse_wal_file_name(seg1 + ".00000000-00100000.zst.age");
  ASSERT_TRUE(store.wal()->put({key, name, spooled, meta}));
  const auto system_dir = dir.path() / ".wal" / "app" / "7000000000000000001";
  EXPECT_TRUE(stdfs::is_regular_file(system_dir / "meta.json"));
  EXPECT_EQ(read_file(system_dir / seg1 / name.file), "sealed");
  const auto sidecar =
      wal_unit_meta_from_json(read_file(system_dir / seg1 / (name.file + ".json")));
  ASSERT_TRUE(sidecar);
  EXPECT_EQ(sidecar->plaintext_sha256, sha256_of("plain"));
  EXPECT_EQ(sidecar->stored_size, 6u);
  EXPECT_FALSE(stdfs::exists(spooled));
}

TEST(PosixWalStore, ASidecarWithoutItsDataIsNoUnit) {
  temp_dir dir;
  posix_storage store(dir.path());
  const wal_key key{"app", "7000000000000000001"};
  // A crash between the sidecar's rename and the data's left this.
  const auto unit_dir = dir.path() / ".wal" / "app" / "7000000000000000001" / seg1;
  write_file(unit_dir / (seg1 + ".00000000-00100000.json"), "{}");
  EXPECT_TRUE(store.wal()->list_dir(key, seg1).value().empty());
  EXPECT_TRUE(store.wal()->list_names(key).value().empty());
  const auto spooled = dir.path() / ".incoming" / "wal-1.part";
  write_file(spooled, "data");
  wal_unit_meta meta{sha256_of("data"), 4, sha256_of("data"), 4, "", {}};
  const auto put =
      store.wal()->put({key, *parse_wal_file_name(seg1 + ".00000000-00100000"), spooled, meta});
  ASSERT_TRUE(put);
  EXPECT_EQ(put->outcome, wal_put_outcome::created) << "the stale sidecar is overwritten";
  EXPECT_EQ(store.wal()->list_dir(key, seg1).value().size(), 1u);
}

TEST(PosixWalStore, UsageAtStartCountsOnlyDataFilesWithTheirSidecar) {
  temp_dir dir;
  const auto unit_dir = dir.path() / ".wal" / "app" / "7000000000000000001" / seg1;
  write_file(unit_dir / (seg1 + ".00000000-00001000.json"), "{}");  // sidecar without data
  write_file(unit_dir / (seg1 + ".00001000-00002000"), "12345");    // data without sidecar
  write_file(unit_dir / (seg1 + ".00002000-00003000"), "123");
  write_file(unit_dir / (seg1 + ".00002000-00003000.json"), "{}");
  write_file(unit_dir / "stray.tmp", "123456789");
  posix_storage store(dir.path());
  EXPECT_EQ(store.wal()->usage().at("app"), 3u);
}

TEST(PosixWalStore, RecountSeesWhatAnotherProcessDeleted) {
  temp_dir dir;
  const auto unit_dir = dir.path() / ".wal" / "app" / "7000000000000000001" / seg1;
  write_file(unit_dir / (seg1 + ".00002000-00003000"), "123");
  write_file(unit_dir / (seg1 + ".00002000-00003000.json"), "{}");
  posix_storage store(dir.path());
  EXPECT_EQ(store.wal()->usage().at("app"), 3u);
  std::filesystem::remove_all(unit_dir);  // `pgship-receiver retention` beside the server
  EXPECT_EQ(store.wal()->usage().at("app"), 3u) << "counted at start, kept current by puts";
  store.wal()->recount();
  EXPECT_EQ(store.wal()->usage()["app"], 0u);
}

TEST(PosixWalStore, TheArchiveIsNoBackupAndUsesNoBackupUsage) {
  temp_dir dir;
  {
    posix_storage store(dir.path());
    const wal_key key{"app", "7000000000000000001"};
    ASSERT_TRUE(store.wal()->claim_system(key, mib));
    const auto spooled = dir.path() / ".incoming" / "wal-1.part";
    write_file(spooled, "sealed");
    wal_unit_meta meta{sha256_of("plain"), 5, sha256_of("sealed"), 6, "", {}};
    ASSERT_TRUE(
        store.wal()->put({key, *parse_wal_file_name(seg1 + ".00000000-00100000"), spooled, meta}));
    // A file named like a backup inside the archive's tree must not be picked up either.
    write_file(dir.path() / ".wal" / "app" / "app-20261201-030000.dump", "x");
    write_file(dir.path() / ".wal" / "app" / "app-20261201-030000.json", "{}");
  }
  posix_storage restarted(dir.path());  // scans (and sweeps) at start
  EXPECT_TRUE(restarted.usage().empty());
  EXPECT_TRUE(restarted.list("app", std::nullopt).value().empty());
  EXPECT_TRUE(restarted.list(".wal", std::nullopt).value().empty());
  EXPECT_FALSE(restarted.find(".wal", "app-20261201-030000.dump").value());
  ASSERT_FALSE(restarted.refresh());
  EXPECT_TRUE(restarted.usage().empty());
  EXPECT_TRUE(stdfs::exists(dir.path() / ".wal" / "app" / "7000000000000000001" / seg1 /
                            (seg1 + ".00000000-00100000.json")))
      << "the start-up sweep leaves the archive's sidecars alone";
}

TEST(WalFileName, NamesUnitsAndHistoryFiles) {
  const auto unit = parse_wal_file_name(seg1 + ".00400000-01000000.zst.age");
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->dir, seg1);
  EXPECT_EQ(unit->stem, seg1 + ".00400000-01000000");
  const auto history = parse_wal_file_name("00000002.history.zst");
  ASSERT_TRUE(history);
  EXPECT_EQ(history->dir, "history");
  EXPECT_EQ(history->stem, "00000002.history");
  EXPECT_FALSE(parse_wal_file_name(seg1));
  EXPECT_FALSE(parse_wal_file_name(seg1 + ".00400000-01000000.json"));
  EXPECT_FALSE(parse_wal_file_name("../" + seg1 + ".00400000-01000000"));
  EXPECT_EQ(wal_codec_variants("s"),
            (std::vector<std::string>{"s", "s.age", "s.zst", "s.zst.age"}));
}

TEST(WalUnitMeta, RoundTripsThroughItsSidecar) {
  wal_unit_meta meta{
      sha256_of("p"), 1,
      sha256_of("s"), 2,
      "1@0/1,2@0/2",  std::chrono::system_clock::time_point(std::chrono::seconds(1765000000))};
  EXPECT_EQ(wal_unit_meta_from_json(to_json(meta)), meta);
  EXPECT_FALSE(wal_unit_meta_from_json("{}"));
  const wal_system_meta system{16 * mib,
                               std::chrono::system_clock::time_point(std::chrono::seconds(5))};
  EXPECT_EQ(wal_system_meta_from_json(to_json(system)), system);
}

TEST(S3WalObjectMeta, RoundTripsThroughHeadersAndFitsTheEnginesLimits) {
  wal_unit_meta meta{sha256_of("p"),
                     1,
                     sha256_of("s"),
                     2,
                     "",
                     std::chrono::system_clock::time_point(std::chrono::seconds(1765000000))};
  EXPECT_EQ(s3::wal_unit_meta_from_object(s3::to_object_metadata(meta)), meta) << "no time map";
  std::string map;
  for (int i = 0; i < 8; ++i)
    map += (i ? "," : "") + std::to_string(1765000000000 + i * 1000) + "@FFFFFFFF/FF00000" +
           std::to_string(i);
  meta.time_map = map;  // 8 samples of the widest positions, as the agent sends at most
  const auto headers = s3::to_object_metadata(meta);
  std::size_t total = 0;
  for (const auto& [name, value] : headers) {
    EXPECT_TRUE(name.starts_with("x-amz-meta-")) << name;
    EXPECT_LE(value.size(), 200u) << name << ": Swift keeps at most 256 bytes a value";
    total += name.size() + value.size();
  }
  EXPECT_LT(total, 2048u) << "AWS keeps at most 2 KiB of metadata";
  EXPECT_EQ(s3::wal_unit_meta_from_object(headers), meta);

  // Headers come back in any order; a missing piece or field is no meta.
  auto shuffled = headers;
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(s3::wal_unit_meta_from_object(shuffled), meta);
  auto missing_piece = headers;
  std::erase_if(missing_piece, [](const auto& h) { return h.first == "x-amz-meta-time-map-0"; });
  EXPECT_FALSE(s3::wal_unit_meta_from_object(missing_piece));
  auto missing_field = headers;
  std::erase_if(missing_field,
                [](const auto& h) { return h.first == "x-amz-meta-plaintext-sha256"; });
  EXPECT_FALSE(s3::wal_unit_meta_from_object(missing_field));
  EXPECT_FALSE(s3::wal_unit_meta_from_object({}));
}

TEST(S3WalObjectMeta, ALongTimeMapKeepsItsEndsAndFits) {
  std::string map;
  for (int i = 0; i < 200; ++i)
    map += (i ? "," : "") + std::to_string(1765000000000 + i * 1000) + "@0/" +
           std::to_string(3000000 + i);
  const auto kept = s3::fitted_time_map(map);
  EXPECT_LE(kept.size(), 1024u);
  EXPECT_TRUE(kept.starts_with("1765000000000@0/3000000,")) << kept;
  EXPECT_TRUE(kept.ends_with(",1765000199000@0/3000199")) << kept;
  EXPECT_EQ(s3::fitted_time_map("1765000000000@0/3000000"), "1765000000000@0/3000000");
}

}  // namespace
}  // namespace pgship::test

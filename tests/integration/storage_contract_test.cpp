// One contract for every storage backend the receiver has: the POSIX directory tree and S3 on
// a real engine (Swift's s3api here; Ceph RGW under the ceph label). The same tests, through
// the storage interface only, must hold on each: commit makes a backup visible all at once,
// names are never overwritten, reads return the stored bytes (ranges too), remove and
// quarantine take a backup out of every list, usage follows, a second instance sees the same
// store, an upload abandoned or killed midway leaves nothing visible, and a backup's manifest
// lives beside it without ever being a backup, and goes with it.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <pgship/common/config.hpp>
#include <pgship/common/sha256.hpp>

#include "storage/posix/posix_storage.hpp"
#include "process.hpp"
#include "storage/s3/part_shipper.hpp"
#include "storage/s3/s3_storage.hpp"
#include "s3_engine.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using receiver::backup_record;
using receiver::commit_outcome;
using receiver::manifest_outcome;
using receiver::storage;
using receiver::stored_manifest;

std::string backends_under_test() {
  const char* v = std::getenv("PGSHIP_STORAGE_BACKENDS");
  return v ? v : "fs,swift";
}

class StorageContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (backends_under_test().find(GetParam()) == std::string::npos) {
      GTEST_SKIP() << GetParam() << " is not in PGSHIP_STORAGE_BACKENDS";
    }
    stdfs::create_directories(spool_dir());
    static int n = 0;
    prefix_ = "contract-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "/";
    store_ = open();
  }

  bool s3() const { return GetParam() != "fs"; }
  stdfs::path spool_dir() const { return dir_.path() / ".incoming"; }

  receiver::s3::s3_settings s3_config() const {
    const auto& e = s3_engine::shared(GetParam());
    receiver::s3::s3_settings c;
    c.client.endpoint = e.endpoint();
    c.client.bucket = e.bucket();
    c.client.creds = {e.access_key(), e.secret_key(), "us-east-1", "s3"};
    c.prefix = prefix_;
    c.spool_dir = spool_dir();
    return c;
  }

  // Another instance on the same store (a restart, or a second replica).
  std::unique_ptr<storage> open() const {
    if (!s3()) return std::make_unique<receiver::posix_storage>(dir_.path());
    return std::make_unique<receiver::s3::s3_storage>(s3_config());
  }

  stdfs::path spool(const std::string& bytes) {
    static int n = 0;
    const auto p = spool_dir() / ("upload-" + std::to_string(++n) + ".part");
    write_file(p, bytes);
    return p;
  }

  commit_outcome commit(const std::string& name, const std::string& bytes,
                        const std::string& client = "app",
                        std::unique_ptr<receiver::staged_upload> staged = nullptr,
                        std::optional<stdfs::path> path = std::nullopt) {
    const auto p = path ? *path : spool(bytes);
    commit_outcome outcome{};
    backup_record record;
    const auto ec = store_->commit(p, client, name, sha256_of(bytes), bytes.size(),
                                   std::move(staged), outcome, record);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(stdfs::exists(p)) << "the spool file is gone after a commit";
    return outcome;
  }

  std::string read(const backup_record& r, std::uint64_t first, std::uint64_t length) {
    std::unique_ptr<receiver::object_reader> reader;
    if (const auto ec = store_->open_range(r, first, length, reader)) {
      ADD_FAILURE() << "open_range: " << ec.message();
      return {};
    }
    std::string out;
    std::vector<char> buf(100000);
    for (std::size_t got = 1; got > 0;) {
      if (const auto ec = reader->read(buf, got)) {
        ADD_FAILURE() << "read: " << ec.message();
        break;
      }
      out.append(buf.data(), got);
    }
    return out;
  }

  std::vector<backup_record> list(const std::string& client = "app",
                                  std::optional<std::string> db = std::nullopt) {
    std::vector<backup_record> out;
    EXPECT_FALSE(store_->list(client, db, out));
    return out;
  }

  std::optional<backup_record> find(const std::string& id, const std::string& client = "app") {
    std::optional<backup_record> out;
    EXPECT_FALSE(store_->find(client, id, out));
    return out;
  }

  // The names stored for `client`'s database `db`, as the file system or the engine lists them.
  std::vector<std::string> stored_names(const std::string& client = "app",
                                        const std::string& db = "app") {
    std::vector<std::string> out;
    if (!s3()) {
      std::error_code ec;
      for (const auto& e : stdfs::directory_iterator(dir_.path() / client / db, ec))
        out.push_back(e.path().filename().string());
    } else {
      receiver::s3::bucket b(s3_config().client);
      std::vector<receiver::s3::object_entry> objects;
      EXPECT_FALSE(b.list(prefix_ + client + "/" + db + "/", objects));
      for (const auto& o : objects)
        out.push_back(o.key.substr(o.key.rfind('/') + 1));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> stored_manifests() {
    auto names = stored_names();
    std::erase_if(names, [](const auto& n) { return n.find(".manifest.") == std::string::npos; });
    return names;
  }

  // Multipart uploads the engine holds under this test's prefix.
  std::size_t open_uploads() {
    receiver::s3::bucket b(s3_config().client);
    std::vector<receiver::s3::upload_entry> uploads;
    EXPECT_FALSE(b.list_multipart(prefix_, uploads));
    return uploads.size();
  }

  temp_dir dir_;
  std::string prefix_;
  std::unique_ptr<storage> store_;
};

TEST_P(StorageContract, CommitMakesTheBackupVisibleWithItsBytes) {
  EXPECT_TRUE(list().empty());
  const auto bytes = random_bytes(300000, 1);
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes), commit_outcome::created);
  const auto listed = list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, "app-20261201-030000.dump");
  EXPECT_EQ(listed[0].database, "app");
  EXPECT_EQ(listed[0].size, bytes.size());
  EXPECT_EQ(listed[0].sha256, to_hex(sha256_of(bytes)));
  const auto found = find("app-20261201-030000.dump");
  ASSERT_TRUE(found);
  EXPECT_EQ(read(*found, 0, found->size), bytes);
  EXPECT_FALSE(find("app-20261201-040000.dump"));
  EXPECT_EQ(store_->capabilities().backend, s3() ? "s3" : "fs");
}

TEST_P(StorageContract, ANameIsNeverOverwritten) {
  const auto bytes = random_bytes(1000, 2);
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes), commit_outcome::created);
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes), commit_outcome::identical);
  EXPECT_EQ(commit("app-20261201-030000.dump", random_bytes(1000, 3)), commit_outcome::conflict);
  const auto found = find("app-20261201-030000.dump");
  ASSERT_TRUE(found);
  EXPECT_EQ(read(*found, 0, found->size), bytes);
  EXPECT_EQ(list().size(), 1u);
}

TEST_P(StorageContract, RangesAndEmptyBackupsRead) {
  const auto bytes = random_bytes(1 << 20, 4);
  commit("app-20261201-030000.dump", bytes);
  commit("app-20261201-040000.dump", "");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_EQ(read(*r, 1000, 5000), bytes.substr(1000, 5000));
  EXPECT_EQ(read(*r, bytes.size() - 1, 1), bytes.substr(bytes.size() - 1));
  const auto empty = find("app-20261201-040000.dump");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size, 0u);
  EXPECT_EQ(read(*empty, 0, 0), "");
}

TEST_P(StorageContract, ListsAreByClientAndDatabaseNewestFirst) {
  commit("app-20261201-030000.dump", "a");
  commit("app-20261202-030000.dump.zst", "b");
  commit("crm-20261203-030000.dump", "c");
  commit("app-20261204-030000.dump", "d", "other");
  const auto all = list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, "crm-20261203-030000.dump");
  EXPECT_EQ(all[1].id, "app-20261202-030000.dump.zst");
  EXPECT_EQ(all[2].id, "app-20261201-030000.dump");
  EXPECT_EQ(list("app", "crm").size(), 1u);
  EXPECT_EQ(list("other").size(), 1u);
  EXPECT_FALSE(find("app-20261204-030000.dump")) << "another client's backup is not found";
  EXPECT_TRUE(list("nobody").empty());
}

TEST_P(StorageContract, RemoveTakesTheBackupOutOfEveryList) {
  commit("app-20261201-030000.dump", "one");
  commit("app-20261202-030000.dump", "two");
  EXPECT_FALSE(store_->remove("app", "app-20261201-030000.dump"));
  EXPECT_EQ(store_->remove("app", "app-20261201-030000.dump"),
            std::errc::no_such_file_or_directory);
  EXPECT_FALSE(find("app-20261201-030000.dump"));
  ASSERT_EQ(list().size(), 1u);
  EXPECT_EQ(list()[0].id, "app-20261202-030000.dump");
  // The name is free again.
  EXPECT_EQ(commit("app-20261201-030000.dump", "three"), commit_outcome::created);
  const auto again = find("app-20261201-030000.dump");
  ASSERT_TRUE(again);
  EXPECT_EQ(read(*again, 0, again->size), "three");
}

TEST_P(StorageContract, UsageFollowsAndASecondInstanceSeesTheSameStore) {
  commit("app-20261201-030000.dump", std::string(1000, 'x'));
  commit("app-20261202-030000.dump", std::string(500, 'y'));
  commit("app-20261202-030000.dump", std::string(500, 'y'));  // identical: counted once
  EXPECT_EQ(store_->usage()["app"], std::make_pair(std::uint64_t{1500}, std::uint64_t{2}));
  ASSERT_FALSE(store_->remove("app", "app-20261202-030000.dump"));
  EXPECT_EQ(store_->usage()["app"], std::make_pair(std::uint64_t{1000}, std::uint64_t{1}));

  const auto second = open();
  EXPECT_EQ(second->usage()["app"], std::make_pair(std::uint64_t{1000}, std::uint64_t{1}));
  std::vector<backup_record> seen;
  ASSERT_FALSE(second->list("app", std::nullopt, seen));
  ASSERT_EQ(seen.size(), 1u);
  // What the second one commits, the first one lists and (after a refresh) counts.
  backup_record record;
  commit_outcome outcome{};
  const auto p = spool("from the second");
  ASSERT_FALSE(second->commit(p, "app", "app-20261203-030000.dump",
                              sha256_of(std::string("from the second")), 15, nullptr, outcome,
                              record));
  EXPECT_EQ(list().size(), 2u);
  ASSERT_FALSE(store_->refresh());
  EXPECT_EQ(store_->usage()["app"], std::make_pair(std::uint64_t{1015}, std::uint64_t{2}));
}

TEST_P(StorageContract, QuarantineTakesOnlyTheObjectThatWasRead) {
  commit("app-20261201-030000.dump", "rotten");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  // Its manifest is no second backup to quarantine or count.
  ASSERT_FALSE(store_->put_manifest(*r, {r->id + ".manifest.json", "{}"}, true).error);
  std::unique_ptr<receiver::object_reader> reader;
  ASSERT_FALSE(store_->open_range(*r, 0, r->size, reader));
  EXPECT_EQ(store_->quarantine(*r, reader->identity() + "-other"),
            std::errc::no_such_file_or_directory);
  EXPECT_EQ(list().size(), 1u);
  EXPECT_FALSE(store_->quarantine(*r, reader->identity()));
  EXPECT_TRUE(list().empty());
  EXPECT_FALSE(find("app-20261201-030000.dump"));
  EXPECT_EQ(store_->quarantined(), 1u);
  EXPECT_EQ(store_->usage()["app"].second, 0u);
  EXPECT_EQ(open()->quarantined(), 1u);
}

TEST_P(StorageContract, AManifestTravelsWithItsBackup) {
  commit("app-20261201-030000.dump", "the backup");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_FALSE(store_->get_manifest(*r).manifest) << "none before the agent sends it";
  const stored_manifest m{"app-20261201-030000.dump.manifest.json", "{\"tables\":[]}\n"};
  const auto put = store_->put_manifest(*r, m, false);
  ASSERT_FALSE(put.error) << put.error.message();
  EXPECT_EQ(put.outcome, manifest_outcome::created);
  EXPECT_EQ(store_->put_manifest(*r, m, false).outcome, manifest_outcome::identical);
  const auto got = store_->get_manifest(*r);
  ASSERT_FALSE(got.error) << got.error.message();
  ASSERT_TRUE(got.manifest);
  EXPECT_EQ(got.manifest->name, m.name);
  EXPECT_EQ(got.manifest->bytes, m.bytes);
  EXPECT_EQ(stored_manifests(), std::vector<std::string>{m.name});

  // Not a backup: not listed, not found by its name, not counted.
  ASSERT_EQ(list().size(), 1u);
  EXPECT_FALSE(find(m.name));
  EXPECT_FALSE(find("app-20261201-030000.dump.manifest"));
  EXPECT_EQ(store_->usage()["app"], std::make_pair(std::uint64_t{10}, std::uint64_t{1}));
  // Another instance (a restart, which sweeps what a crash left) keeps and serves it.
  const auto second = open();
  EXPECT_EQ(second->usage()["app"], std::make_pair(std::uint64_t{10}, std::uint64_t{1}));
  std::vector<backup_record> seen;
  ASSERT_FALSE(second->list("app", std::nullopt, seen));
  EXPECT_EQ(seen.size(), 1u);
  const auto again = second->get_manifest(*r);
  ASSERT_TRUE(again.manifest);
  EXPECT_EQ(again.manifest->bytes, m.bytes);

  // It goes with its backup, and the name committed again starts without one.
  ASSERT_FALSE(store_->remove("app", r->id));
  EXPECT_FALSE(store_->get_manifest(*r).manifest);
  EXPECT_TRUE(stored_manifests().empty());
  commit(r->id, "the backup");
  const auto recommitted = find(r->id);
  ASSERT_TRUE(recommitted);
  EXPECT_FALSE(store_->get_manifest(*recommitted).manifest);
}

TEST_P(StorageContract, AManifestNeedsItsBackup) {
  backup_record ghost;
  ghost.id = "app-20261201-030000.dump";
  ghost.client = "app";
  ghost.database = "app";
  const stored_manifest m{"app-20261201-030000.dump.manifest.json", "{}"};
  EXPECT_EQ(store_->put_manifest(ghost, m, true).error, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(store_->get_manifest(ghost).manifest);
  EXPECT_TRUE(stored_manifests().empty());
  // Only a name of this backup's manifest is taken.
  commit("app-20261201-030000.dump", "b");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  for (const char* name : {"app-20261202-030000.dump.manifest.json",
                           "app-20261201-030000.dump.json", "app-20261201-030000.dump"}) {
    EXPECT_EQ(store_->put_manifest(*r, {name, "{}"}, true).error, std::errc::invalid_argument)
        << name;
  }
  EXPECT_TRUE(stored_manifests().empty());
  EXPECT_EQ(list().size(), 1u);
  if (!s3()) {
    // A manifest whose backup is gone (a crash between the removals) is swept at start.
    write_file(dir_.path() / "app" / "app" / "app-20261203-030000.dump.manifest.json.age", "x");
    ASSERT_FALSE(store_->put_manifest(*r, m, true).error);
    open();
    EXPECT_EQ(stored_manifests(), std::vector<std::string>{m.name});
  }
}

TEST_P(StorageContract, AnotherManifestReplacesTheStoredOneOnlyWhenAllowed) {
  commit("app-20261201-030000.dump.age", "ciphertext");
  const auto r = find("app-20261201-030000.dump.age");
  ASSERT_TRUE(r);
  const stored_manifest a{r->id + ".manifest.json", "first"};
  const stored_manifest b{r->id + ".manifest.json", "second"};
  const stored_manifest sealed{r->id + ".manifest.json.age", "age-encryption.org/v1\n..."};
  const auto holds = [&](const stored_manifest& m) {
    const auto got = store_->get_manifest(*r);
    return got.manifest && got.manifest->name == m.name && got.manifest->bytes == m.bytes &&
           stored_manifests() == std::vector<std::string>{m.name};
  };
  EXPECT_EQ(store_->put_manifest(*r, a, false).outcome, manifest_outcome::created);
  // APPEND_ONLY: other bytes, or the other name, leave the first one as it is.
  EXPECT_EQ(store_->put_manifest(*r, b, false).outcome, manifest_outcome::refused);
  EXPECT_EQ(store_->put_manifest(*r, sealed, false).outcome, manifest_outcome::refused);
  EXPECT_TRUE(holds(a));
  EXPECT_EQ(store_->put_manifest(*r, b, true).outcome, manifest_outcome::replaced);
  EXPECT_TRUE(holds(b));
  // The encrypted name replaces the plain one: one manifest per backup.
  EXPECT_EQ(store_->put_manifest(*r, sealed, true).outcome, manifest_outcome::replaced);
  EXPECT_TRUE(holds(sealed));
  EXPECT_EQ(store_->put_manifest(*r, sealed, false).outcome, manifest_outcome::identical);
  EXPECT_EQ(list().size(), 1u);
}

// Bytes written in pieces, the store told after each, as the upload routes do.
struct growing_file {
  explicit growing_file(const stdfs::path& p)
      : fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600)) {}
  ~growing_file() { ::close(fd); }
  void write(const std::string& bytes, receiver::staged_upload* staged) {
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    size += bytes.size();
    if (staged) staged->grew(size);
  }
  int fd;
  std::uint64_t size = 0;
};

TEST_P(StorageContract, PartsGoUpWhileTheBytesArrive) {
  const auto bytes = random_bytes(21 << 20, 5);  // a whole 16 MiB part and a short last one
  const auto p = spool_dir() / "upload-staged.part";
  auto staged = store_->begin(p, "app", "app-20261201-030000.dump");
  EXPECT_EQ(staged != nullptr, store_->capabilities().streams_parts);
  {
    growing_file f(p);
    for (std::size_t at = 0; at < bytes.size(); at += 1 << 20)
      f.write(bytes.substr(at, 1 << 20), staged.get());
  }
  if (s3()) {
    // Before the commit the upload is open on the engine and nothing is listed.
    EXPECT_TRUE(wait_until([&] { return open_uploads() == 1; }, std::chrono::seconds(20)));
    EXPECT_TRUE(list().empty());
  }
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes, "app", std::move(staged), p),
            commit_outcome::created);
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_EQ(sha256_of(read(*r, 0, r->size)), sha256_of(bytes));
  if (s3()) {
    EXPECT_EQ(open_uploads(), 0u);
  }
}

// As the single-request routes feed it: the parts are hashed from the arriving bytes.
TEST_P(StorageContract, PartsHashedOnArrivalGoUpAndMustMatchTheFile) {
  for (const bool tampered : {false, true}) {
    const auto bytes = random_bytes(40 << 20, tampered ? 14 : 13);
    auto on_disk = bytes;
    if (tampered) on_disk[20 << 20] ^= 1;  // the spool file is not what arrived
    const auto p = spool_dir() / ("upload-arrival-" + std::to_string(tampered) + ".part");
    auto staged = store_->begin(p, "app", "app-20261201-030000.dump");
    {
      growing_file f(p);
      for (std::size_t at = 0; at < bytes.size(); at += 1 << 20) {
        f.write(on_disk.substr(at, 1 << 20), nullptr);
        if (staged) staged->arrived(std::string_view(bytes).substr(at, 1 << 20));
      }
    }
    commit_outcome outcome{};
    backup_record record;
    const auto ec = store_->commit(p, "app", "app-20261201-030000.dump", sha256_of(bytes),
                                   bytes.size(), std::move(staged), outcome, record);
    if (!tampered) {
      ASSERT_FALSE(ec) << ec.message();
      const auto r = find("app-20261201-030000.dump");
      ASSERT_TRUE(r);
      EXPECT_EQ(sha256_of(read(*r, 0, r->size)), sha256_of(bytes));
      ASSERT_FALSE(store_->remove("app", "app-20261201-030000.dump"));
    } else if (s3()) {
      // The engine refuses the part whose bytes are not the ones hashed: nothing is visible.
      EXPECT_TRUE(ec);
      EXPECT_FALSE(find("app-20261201-030000.dump"));
      EXPECT_TRUE(wait_until([&] { return open_uploads() == 0; }, std::chrono::seconds(20)));
    }
    std::error_code ignored;
    stdfs::remove(p, ignored);
  }
}

TEST_P(StorageContract, AnAbandonedUploadLeavesNothing) {
  const auto p = spool_dir() / "upload-abandoned.part";
  {
    auto staged = store_->begin(p, "app", "app-20261201-030000.dump");
    growing_file f(p);
    for (int i = 0; i < 20; ++i)
      f.write(random_bytes(1 << 20, 10 + i), staged.get());
    if (s3()) {
      EXPECT_TRUE(wait_until([&] { return open_uploads() == 1; }, std::chrono::seconds(20)));
      // The 16 MiB part is up by then and the shipper is idle: the abandon itself aborts
      // (one abandoned mid-part is aborted by its pump: the hash-mismatch tests cover that).
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }  // the upload failed: its staging goes
  if (s3()) {
    EXPECT_TRUE(wait_until([&] { return open_uploads() == 0; }, std::chrono::seconds(20)));
  }
  EXPECT_TRUE(list().empty());
  EXPECT_FALSE(find("app-20261201-030000.dump"));
}

TEST_P(StorageContract, BytesThatDoNotMatchTheirHashCommitNothing) {
  if (!s3()) GTEST_SKIP() << "posix_storage renames the file that was hashed as it was written";
  for (const std::size_t size : {std::size_t{1000}, std::size_t{70} << 20}) {
    const auto bytes = random_bytes(size, 6);
    auto other = bytes;
    other[size / 2] ^= 1;
    const auto p = spool(other);  // the spool file differs from what was hashed
    commit_outcome outcome{};
    backup_record record;
    EXPECT_TRUE(store_->commit(p, "app", "app-20261201-030000.dump", sha256_of(bytes), size,
                               nullptr, outcome, record))
        << size << " bytes";
    EXPECT_TRUE(list().empty());
    EXPECT_FALSE(find("app-20261201-030000.dump"));
    stdfs::remove(p);
  }
}

TEST_P(StorageContract, ALargeBackupCommittedWithoutStagingGoesInParts) {
  const auto bytes = random_bytes(70 << 20, 7);
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes), commit_outcome::created);
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_EQ(read(*r, (70 << 20) - 10, 10), bytes.substr(bytes.size() - 10));
  EXPECT_EQ(sha256_of(read(*r, 0, r->size)), sha256_of(bytes));
}

TEST_P(StorageContract, AnUploadLeftByAKilledReceiverIsAbortedAtStart) {
  if (!s3()) GTEST_SKIP() << "posix_storage has no staging outside the spool";
  // What a receiver killed mid-upload leaves: an open multipart upload and its journal.
  receiver::s3::bucket b(s3_config().client);
  std::string upload_id;
  const auto key = prefix_ + "app/app/app-20261201-030000.dump";
  ASSERT_FALSE(b.create_multipart(key, {}, upload_id));
  write_file(spool_dir() / "upload-killed.s3upload", key + "\n" + upload_id + "\n");
  ASSERT_EQ(open_uploads(), 1u);
  const auto restarted = open();
  EXPECT_EQ(open_uploads(), 0u);
  EXPECT_FALSE(stdfs::exists(spool_dir() / "upload-killed.s3upload"));
  std::vector<backup_record> seen;
  ASSERT_FALSE(restarted->list("app", std::nullopt, seen));
  EXPECT_TRUE(seen.empty());
}

TEST_P(StorageContract, TwoCommitsOfOneNameAtOnceLeaveOneConsistentBackup) {
  // Both large enough to go in parts, so that each takes a while.
  const auto a = random_bytes(20 << 20, 11), b = random_bytes(20 << 20, 12);
  const auto pa = spool(a), pb = spool(b);
  commit_outcome oa{}, ob{};
  backup_record ra, rb;
  std::error_code ea, eb;
  std::thread other([&] {
    eb = store_->commit(pb, "app", "app-20261201-030000.dump", sha256_of(b), b.size(), nullptr, ob,
                        rb);
  });
  ea = store_->commit(pa, "app", "app-20261201-030000.dump", sha256_of(a), a.size(), nullptr, oa,
                      ra);
  other.join();
  ASSERT_FALSE(ea) << ea.message();
  ASSERT_FALSE(eb) << eb.message();
  EXPECT_EQ((std::set{oa, ob}), (std::set{commit_outcome::created, commit_outcome::conflict}));
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  // Whichever won, the record describes the bytes that are stored.
  EXPECT_EQ(to_hex(sha256_of(read(*r, 0, r->size))), r->sha256);
}

TEST_P(StorageContract, ObjectLockHoldsOrTheStoreRefusesToStart) {
  if (!s3()) GTEST_SKIP() << "S3_OBJECT_LOCK_DAYS is for S3 stores";
  auto cfg = s3_config();
  cfg.object_lock_days = 1;
  const auto& engine = s3_engine::shared(GetParam());
  if (!engine.object_lock()) {
    // Swift ignores object lock headers: a lock it would not keep is refused, not assumed.
    EXPECT_THROW(receiver::s3::s3_storage{cfg}, config::config_error);
    return;
  }
  store_ = std::make_unique<receiver::s3::s3_storage>(cfg);
  EXPECT_TRUE(store_->capabilities().object_lock);
  commit("app-20261201-030000.dump", "kept for a day");
  const auto key = prefix_ + "app/app/app-20261201-030000.dump";
  const auto head = engine.signed_curl(key, {"-I"});
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_NE(head.body.find("x-amz-object-lock-mode: COMPLIANCE"), std::string::npos) << head.body;
  const auto at = head.body.find("x-amz-version-id: ");
  ASSERT_NE(at, std::string::npos) << head.body;
  const auto version = head.body.substr(at + 18, head.body.find('\r', at) - at - 18);
  // Not even the bucket's owner deletes the locked version, with the receiver's own keys.
  const auto del = engine.signed_curl(key + "?versionId=" + version, {"-X", "DELETE"});
  EXPECT_EQ(del.status, 403) << del.body;
  const auto get = engine.signed_curl(key + "?versionId=" + version);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "kept for a day");
  // In parts too (each with the Content-MD5 a retention needs).
  commit("app-20261202-030000.dump", random_bytes(70 << 20, 9));
  const auto parts = engine.signed_curl(prefix_ + "app/app/app-20261202-030000.dump", {"-I"});
  EXPECT_NE(parts.body.find("x-amz-object-lock-mode: COMPLIANCE"), std::string::npos) << parts.body;
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract, ::testing::Values("fs", "swift", "ceph"),
                         [](const auto& backend) { return backend.param; });

}  // namespace
}  // namespace pgship::test

#pragma once
// One contract for every storage backend the receiver has, restic-style: the same tests,
// through the storage interface only, must hold on each. Commit makes a backup visible all at
// once, names are never overwritten, reads return the stored bytes (ranges too), remove and
// quarantine take a backup out of every list, usage follows, a second instance sees the same
// store, an upload abandoned midway leaves nothing visible, and a backup's manifest lives
// beside it without ever being a backup, and goes with it. Where backends differ, a test asks
// capabilities(), never the backend's name.
//
// Included by tests/unit/receiver/storage_contract_test.cpp (POSIX and memory, label `unit`)
// and tests/integration/storage_contract_test.cpp (S3 on real engines), each of which defines
// its contract_backend kinds and instantiates the suite with them.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <pgship/common/sha256.hpp>

#include "process.hpp"
#include "storage/storage.hpp"
#include "temp_dir.hpp"

namespace pgship::test {

/// One store under the contract, and a look under its interface.
class contract_backend {
 public:
  virtual ~contract_backend() = default;
  /// Another instance on the same store (a restart, or a second replica).
  virtual std::unique_ptr<receiver::storage> open() = 0;
  /// The names stored for `client`'s database `db`, as the store itself holds them, sorted.
  virtual std::vector<std::string> stored_names(const std::string& client,
                                                const std::string& db) = 0;
  /// Uploads the store holds outside the spool (see capabilities().stages_outside_spool).
  virtual std::size_t staged_uploads() { return 0; }
};

/// A kind of backend: `make` sets one up whose spool is `dir`/.incoming; nullptr skips it.
struct contract_param {
  std::string name;     // the test's name suffix
  std::string backend;  // what capabilities().backend says
  std::function<std::unique_ptr<contract_backend>(const std::filesystem::path& dir)> make;
};

// For gtest (and the ctest names it gives): the kind's name, not its bytes.
inline void PrintTo(const contract_param& p, std::ostream* os) {
  *os << p.name;
}

inline std::string contract_param_name(const ::testing::TestParamInfo<contract_param>& info) {
  return info.param.name;
}

class StorageContract : public ::testing::TestWithParam<contract_param> {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(spool_dir());
    backend_ = GetParam().make(dir_.path());
    if (!backend_) GTEST_SKIP() << GetParam().name << " is not among the backends under test";
    store_ = backend_->open();
  }

  std::filesystem::path spool_dir() const { return dir_.path() / ".incoming"; }
  receiver::storage_capabilities caps() const { return store_->capabilities(); }
  std::unique_ptr<receiver::storage> open() const { return backend_->open(); }

  std::filesystem::path spool(const std::string& bytes) {
    static int n = 0;
    const auto p = spool_dir() / ("upload-" + std::to_string(++n) + ".part");
    write_file(p, bytes);
    return p;
  }

  // Stores `bytes` from a spool file (`path`, else a new one) through `store`.
  static receiver::result<receiver::commit_result> commit_to(
      receiver::storage& store, const std::filesystem::path& path, const std::string& name,
      const std::string& bytes, const std::string& client = "app",
      std::unique_ptr<receiver::staged_upload> staged = nullptr) {
    return store.commit({path, client, name, sha256_of(bytes), bytes.size(), std::move(staged)});
  }

  receiver::commit_outcome commit(const std::string& name, const std::string& bytes,
                                  const std::string& client = "app",
                                  std::unique_ptr<receiver::staged_upload> staged = nullptr,
                                  std::optional<std::filesystem::path> path = std::nullopt) {
    const auto p = path ? *path : spool(bytes);
    const auto done = commit_to(*store_, p, name, bytes, client, std::move(staged));
    EXPECT_TRUE(done) << done.error().message();
    EXPECT_FALSE(std::filesystem::exists(p)) << "the spool file is gone after a commit";
    return done ? done->outcome : receiver::commit_outcome::conflict;
  }

  std::string read(const receiver::backup_record& r, std::uint64_t first, std::uint64_t length) {
    auto reader = store_->open_range(r, first, length);
    if (!reader) {
      ADD_FAILURE() << "open_range: " << reader.error().message();
      return {};
    }
    std::string out;
    std::vector<char> buf(100000);
    for (std::size_t got = 1; got > 0;) {
      if (const auto ec = (*reader)->read(buf, got)) {
        ADD_FAILURE() << "read: " << ec.message();
        break;
      }
      out.append(buf.data(), got);
    }
    return out;
  }

  std::vector<receiver::backup_record> list(const std::string& client = "app",
                                            std::optional<std::string> db = std::nullopt) {
    auto out = store_->list(client, db);
    EXPECT_TRUE(out) << out.error().message();
    return out ? std::move(*out) : std::vector<receiver::backup_record>{};
  }

  std::optional<receiver::backup_record> find(const std::string& id,
                                              const std::string& client = "app") {
    auto out = store_->find(client, id);
    EXPECT_TRUE(out) << out.error().message();
    return out ? std::move(*out) : std::nullopt;
  }

  // Client app's stored bytes and backups, and how many backups it lists.
  using counts = std::pair<std::uint64_t, std::uint64_t>;
  static counts usage_of(const receiver::storage& s) { return s.usage()["app"]; }
  static std::size_t listed_by(const receiver::storage& s) {
    return s.list("app", std::nullopt).value().size();
  }

  std::vector<std::string> stored_manifests() {
    auto names = backend_->stored_names("app", "app");
    std::erase_if(names, [](const auto& n) { return n.find(".manifest.") == std::string::npos; });
    return names;
  }

  temp_dir dir_;
  std::unique_ptr<contract_backend> backend_;
  std::unique_ptr<receiver::storage> store_;
};

using receiver::backup_record;
using receiver::commit_outcome;
using receiver::manifest_outcome;
using receiver::stored_manifest;

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
  EXPECT_EQ(caps().backend, GetParam().backend);
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
  EXPECT_EQ(usage_of(*store_), counts(1500, 2));
  ASSERT_FALSE(store_->remove("app", "app-20261202-030000.dump"));
  EXPECT_EQ(usage_of(*store_), counts(1000, 1));

  const auto second = open();
  EXPECT_EQ(usage_of(*second), counts(1000, 1));
  ASSERT_EQ(listed_by(*second), 1u);
  // What the second one commits, the first one lists and (after a refresh) counts.
  const auto p = spool("from the second");
  ASSERT_TRUE(commit_to(*second, p, "app-20261203-030000.dump", "from the second"));
  EXPECT_EQ(list().size(), 2u);
  ASSERT_FALSE(store_->refresh());
  EXPECT_EQ(usage_of(*store_), counts(1015, 2));
}

TEST_P(StorageContract, QuarantineTakesOnlyTheObjectThatWasRead) {
  commit("app-20261201-030000.dump", "rotten");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  // Its manifest is no second backup to quarantine or count.
  ASSERT_TRUE(store_->put_manifest(*r, {r->id + ".manifest.json", "{}"}, true));
  const auto reader = store_->open_range(*r, 0, r->size);
  ASSERT_TRUE(reader);
  EXPECT_EQ(store_->quarantine(*r, (*reader)->identity() + "-other"),
            std::errc::no_such_file_or_directory);
  EXPECT_EQ(list().size(), 1u);
  EXPECT_EQ(store_->quarantined(), 0u);
  EXPECT_FALSE(store_->quarantine(*r, (*reader)->identity()));
  EXPECT_TRUE(list().empty());
  EXPECT_FALSE(find("app-20261201-030000.dump"));
  EXPECT_EQ(store_->quarantined(), 1u);
  EXPECT_EQ(usage_of(*store_).second, 0u);
  EXPECT_EQ(open()->quarantined(), 1u);
  ASSERT_FALSE(store_->refresh());
  EXPECT_EQ(store_->quarantined(), 1u) << "the count of the whole store agrees";
  EXPECT_EQ(usage_of(*store_).second, 0u);
}

TEST_P(StorageContract, AManifestTravelsWithItsBackup) {
  commit("app-20261201-030000.dump", "the backup");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_FALSE(store_->get_manifest(*r).value()) << "none before the agent sends it";
  const stored_manifest m{"app-20261201-030000.dump.manifest.json", "{\"tables\":[]}\n"};
  const auto put = store_->put_manifest(*r, m, false);
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(*put, manifest_outcome::created);
  EXPECT_EQ(store_->put_manifest(*r, m, false).value(), manifest_outcome::identical);
  const auto got = store_->get_manifest(*r);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->name, m.name);
  EXPECT_EQ((*got)->bytes, m.bytes);
  EXPECT_EQ(stored_manifests(), std::vector<std::string>{m.name});

  // Not a backup: not listed, not found by its name, not counted.
  ASSERT_EQ(list().size(), 1u);
  EXPECT_FALSE(find(m.name));
  EXPECT_FALSE(find("app-20261201-030000.dump.manifest"));
  EXPECT_EQ(usage_of(*store_), counts(10, 1));
  // Another instance (a restart, which sweeps what a crash left) keeps and serves it.
  const auto second = open();
  EXPECT_EQ(usage_of(*second), counts(10, 1));
  EXPECT_EQ(listed_by(*second), 1u);
  const auto again = second->get_manifest(*r);
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->bytes, m.bytes);

  // It goes with its backup, and the name committed again starts without one.
  ASSERT_FALSE(store_->remove("app", r->id));
  EXPECT_FALSE(store_->get_manifest(*r).value());
  EXPECT_TRUE(stored_manifests().empty());
  commit(r->id, "the backup");
  const auto recommitted = find(r->id);
  ASSERT_TRUE(recommitted);
  EXPECT_FALSE(store_->get_manifest(*recommitted).value());
}

TEST_P(StorageContract, AManifestNeedsItsBackup) {
  backup_record ghost;
  ghost.id = "app-20261201-030000.dump";
  ghost.client = "app";
  ghost.database = "app";
  const stored_manifest m{"app-20261201-030000.dump.manifest.json", "{}"};
  EXPECT_EQ(store_->put_manifest(ghost, m, true).error(), std::errc::no_such_file_or_directory);
  EXPECT_FALSE(store_->get_manifest(ghost).value());
  EXPECT_TRUE(stored_manifests().empty());
  // Only a name of this backup's manifest is taken.
  commit("app-20261201-030000.dump", "b");
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  for (const char* name : {"app-20261202-030000.dump.manifest.json",
                           "app-20261201-030000.dump.json", "app-20261201-030000.dump"}) {
    EXPECT_EQ(store_->put_manifest(*r, {name, "{}"}, true).error(), std::errc::invalid_argument)
        << name;
  }
  EXPECT_TRUE(stored_manifests().empty());
  EXPECT_EQ(list().size(), 1u);
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
    return got && *got && (*got)->name == m.name && (*got)->bytes == m.bytes &&
           stored_manifests() == std::vector<std::string>{m.name};
  };
  const auto put = [&](const stored_manifest& m, bool may_replace) {
    return store_->put_manifest(*r, m, may_replace).value();
  };
  EXPECT_EQ(put(a, false), manifest_outcome::created);
  // APPEND_ONLY: other bytes, or the other name, leave the first one as it is.
  EXPECT_EQ(put(b, false), manifest_outcome::refused);
  EXPECT_EQ(put(sealed, false), manifest_outcome::refused);
  EXPECT_TRUE(holds(a));
  EXPECT_EQ(put(b, true), manifest_outcome::replaced);
  EXPECT_TRUE(holds(b));
  // The encrypted name replaces the plain one: one manifest per backup.
  EXPECT_EQ(put(sealed, true), manifest_outcome::replaced);
  EXPECT_TRUE(holds(sealed));
  EXPECT_EQ(put(sealed, false), manifest_outcome::identical);
  EXPECT_EQ(list().size(), 1u);
}

// Bytes written in pieces, the store told after each, as the upload routes do.
struct growing_file {
  explicit growing_file(const std::filesystem::path& p)
      : fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600)) {}
  ~growing_file() { ::close(fd); }
  growing_file(const growing_file&) = delete;
  growing_file& operator=(const growing_file&) = delete;
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
  EXPECT_EQ(staged != nullptr, caps().streams_parts);
  {
    growing_file f(p);
    for (std::size_t at = 0; at < bytes.size(); at += 1 << 20)
      f.write(bytes.substr(at, 1 << 20), staged.get());
  }
  if (caps().stages_outside_spool) {
    // Before the commit the upload is open in the store and nothing is listed.
    EXPECT_TRUE(
        wait_until([&] { return backend_->staged_uploads() == 1; }, std::chrono::seconds(20)));
    EXPECT_TRUE(list().empty());
  }
  EXPECT_EQ(commit("app-20261201-030000.dump", bytes, "app", std::move(staged), p),
            commit_outcome::created);
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  EXPECT_EQ(sha256_of(read(*r, 0, r->size)), sha256_of(bytes));
  EXPECT_EQ(backend_->staged_uploads(), 0u);
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
    const auto done =
        commit_to(*store_, p, "app-20261201-030000.dump", bytes, "app", std::move(staged));
    if (!tampered) {
      ASSERT_TRUE(done) << done.error().message();
      const auto r = find("app-20261201-030000.dump");
      ASSERT_TRUE(r);
      EXPECT_EQ(sha256_of(read(*r, 0, r->size)), sha256_of(bytes));
      ASSERT_FALSE(store_->remove("app", "app-20261201-030000.dump"));
    } else if (!caps().keeps_spool_file) {
      // The store refuses bytes that are not the ones hashed: nothing is visible.
      EXPECT_FALSE(done);
      EXPECT_FALSE(find("app-20261201-030000.dump"));
      EXPECT_TRUE(
          wait_until([&] { return backend_->staged_uploads() == 0; }, std::chrono::seconds(20)));
    }
    std::error_code ignored;
    std::filesystem::remove(p, ignored);
  }
}

TEST_P(StorageContract, AnAbandonedUploadLeavesNothing) {
  const auto p = spool_dir() / "upload-abandoned.part";
  {
    auto staged = store_->begin(p, "app", "app-20261201-030000.dump");
    growing_file f(p);
    for (int i = 0; i < 20; ++i)
      f.write(random_bytes(1 << 20, 10 + i), staged.get());
    if (caps().stages_outside_spool) {
      EXPECT_TRUE(
          wait_until([&] { return backend_->staged_uploads() == 1; }, std::chrono::seconds(20)));
      // The 16 MiB part is up by then and the shipper is idle: the abandon itself aborts
      // (one abandoned mid-part is aborted by its pump: the hash-mismatch tests cover that).
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }  // the upload failed: its staging goes
  EXPECT_TRUE(
      wait_until([&] { return backend_->staged_uploads() == 0; }, std::chrono::seconds(20)));
  EXPECT_TRUE(list().empty());
  EXPECT_FALSE(find("app-20261201-030000.dump"));
}

TEST_P(StorageContract, BytesThatDoNotMatchTheirHashCommitNothing) {
  if (caps().keeps_spool_file) {
    GTEST_SKIP() << "the spool file becomes the backup: its bytes were hashed as they were written";
  }
  for (const std::size_t size : {std::size_t{1000}, std::size_t{70} << 20}) {
    const auto bytes = random_bytes(size, 6);
    auto other = bytes;
    other[size / 2] ^= 1;
    const auto p = spool(other);  // the spool file differs from what was hashed
    EXPECT_FALSE(commit_to(*store_, p, "app-20261201-030000.dump", bytes)) << size << " bytes";
    EXPECT_TRUE(list().empty());
    EXPECT_FALSE(find("app-20261201-030000.dump"));
    std::filesystem::remove(p);
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

TEST_P(StorageContract, TwoCommitsOfOneNameAtOnceLeaveOneConsistentBackup) {
  // Both large enough to go in parts, so that each takes a while.
  const auto a = random_bytes(20 << 20, 11), b = random_bytes(20 << 20, 12);
  const auto pa = spool(a), pb = spool(b);
  receiver::result<receiver::commit_result> ra, rb;
  std::thread other([&] { rb = commit_to(*store_, pb, "app-20261201-030000.dump", b); });
  ra = commit_to(*store_, pa, "app-20261201-030000.dump", a);
  other.join();
  ASSERT_TRUE(ra) << ra.error().message();
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_EQ((std::set{ra->outcome, rb->outcome}),
            (std::set{commit_outcome::created, commit_outcome::conflict}));
  const auto r = find("app-20261201-030000.dump");
  ASSERT_TRUE(r);
  // Whichever won, the record describes the bytes that are stored.
  EXPECT_EQ(to_hex(sha256_of(read(*r, 0, r->size))), r->sha256);
}

}  // namespace pgship::test

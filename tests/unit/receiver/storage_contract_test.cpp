// The storage contract (tests/support/storage_contract.hpp) on the backends that need no
// network: the POSIX directory tree and memory. The S3 engines run it as integration tests.
// Also what only the POSIX tree does: sweep at start what a crash left.

#include "storage_contract.hpp"

#include "storage/memory/memory_storage.hpp"
#include "storage/posix/posix_storage.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;

class posix_backend final : public contract_backend {
 public:
  explicit posix_backend(stdfs::path dir) : dir_(std::move(dir)) {}
  std::unique_ptr<receiver::storage> open() override {
    return std::make_unique<receiver::posix_storage>(dir_);
  }
  std::vector<std::string> stored_names(const std::string& client, const std::string& db) override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(dir_ / client / db, ec))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  stdfs::path dir_;
};

class memory_backend final : public contract_backend {
 public:
  std::unique_ptr<receiver::storage> open() override {
    return std::make_unique<receiver::memory_storage>(bucket_);
  }
  std::vector<std::string> stored_names(const std::string& client, const std::string& db) override {
    return bucket_->names(client, db);
  }

 private:
  std::shared_ptr<receiver::memory_bucket> bucket_ = std::make_shared<receiver::memory_bucket>();
};

const contract_param posix{
    "fs", "fs", [](const stdfs::path& dir) { return std::make_unique<posix_backend>(dir); }};
const contract_param memory{"memory", "memory",
                            [](const stdfs::path&) { return std::make_unique<memory_backend>(); }};

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract, ::testing::Values(posix, memory),
                         contract_param_name);

TEST(PosixStorage, AManifestWhoseBackupIsGoneIsSweptAtStart) {
  temp_dir dir;
  receiver::posix_storage store(dir.path());
  write_file(dir.path() / ".incoming" / "upload.part", "b");
  const auto done = store.commit({dir.path() / ".incoming" / "upload.part", "app",
                                  "app-20261201-030000.dump", sha256_of("b"), 1, nullptr});
  ASSERT_TRUE(done);
  const stored_manifest m{"app-20261201-030000.dump.manifest.json", "{}"};
  ASSERT_TRUE(store.put_manifest(done->record, m, true));
  // A crash between the removals of another backup left its manifest behind.
  const auto db = dir.path() / "app" / "app";
  write_file(db / "app-20261203-030000.dump.manifest.json.age", "x");
  receiver::posix_storage restarted(dir.path());
  EXPECT_TRUE(stdfs::exists(db / m.name));
  EXPECT_FALSE(stdfs::exists(db / "app-20261203-030000.dump.manifest.json.age"));
}

TEST(PosixStorage, QuarantinedBackupsAreCountedAtStart) {
  temp_dir dir;
  write_file(dir.path() / ".quarantine" / "app" / "app" / "app-20261201-030000.dump", "x");
  write_file(dir.path() / ".quarantine" / "app" / "app" / "1765000000" / "app-20261201-030000.dump",
             "y");
  write_file(dir.path() / ".quarantine" / "app" / "app" / "app-20261201-030000.json", "{}");
  EXPECT_EQ(receiver::posix_storage(dir.path()).quarantined(), 2u);
}

}  // namespace
}  // namespace pgship::test

// The storage contract (tests/support/storage_contract.hpp) and the physical archive's
// (tests/support/wal_store_contract.hpp) on S3, on real engines: Swift's s3api here, Ceph RGW
// under the ceph label (PGSHIP_STORAGE_BACKENDS picks them; the POSIX tree and memory run both
// as unit tests). Also what only S3 does: abort at start the multipart uploads a killed
// receiver left, hold objects under object lock, keep the archive's files as objects with
// their meta in headers, out of the backups' listing and usage, and put create-only with
// If-None-Match: * where the engine has it.

#include <cstdlib>
#include <map>

#include <pgship/common/config.hpp>

#include "s3_engine.hpp"
#include "storage/s3/part_shipper.hpp"
#include "storage/s3/s3_storage.hpp"
#include "storage_contract.hpp"
#include "wal_store_contract.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;

bool under_test(const std::string& engine) {
  const char* v = std::getenv("PGSHIP_STORAGE_BACKENDS");
  return std::string(v ? v : "swift").find(engine) != std::string::npos;
}

// A bucket prefix of its own for each test.
std::string fresh_prefix() {
  static int n = 0;
  return "contract-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "/";
}

receiver::s3::s3_settings s3_config(const std::string& engine, const std::string& prefix,
                                    const stdfs::path& spool_dir) {
  const auto& e = s3_engine::shared(engine);
  receiver::s3::s3_settings c;
  c.client.endpoint = e.endpoint();
  c.client.bucket = e.bucket();
  c.client.creds = {e.access_key(), e.secret_key(), "us-east-1", "s3"};
  c.prefix = prefix;
  c.spool_dir = spool_dir;
  return c;
}

// Multipart uploads the engine holds under `cfg`'s prefix.
std::size_t open_uploads(const receiver::s3::s3_settings& cfg) {
  receiver::s3::bucket b(cfg.client);
  std::vector<receiver::s3::upload_entry> uploads;
  EXPECT_FALSE(b.list_multipart(cfg.prefix, uploads));
  return uploads.size();
}

class s3_backend final : public contract_backend {
 public:
  s3_backend(const std::string& engine, const stdfs::path& dir)
      : cfg_(s3_config(engine, fresh_prefix(), dir / ".incoming")) {}
  std::unique_ptr<receiver::storage> open() override {
    return std::make_unique<receiver::s3::s3_storage>(cfg_);
  }
  std::vector<std::string> stored_names(const std::string& client, const std::string& db) override {
    receiver::s3::bucket b(cfg_.client);
    std::vector<receiver::s3::object_entry> objects;
    EXPECT_FALSE(b.list(cfg_.prefix + client + "/" + db + "/", objects));
    std::vector<std::string> out;
    for (const auto& o : objects)
      out.push_back(o.key.substr(o.key.rfind('/') + 1));
    std::sort(out.begin(), out.end());
    return out;
  }
  std::size_t staged_uploads() override { return open_uploads(cfg_); }

 private:
  receiver::s3::s3_settings cfg_;
};

contract_param on_engine(const std::string& engine) {
  return {engine, "s3", [engine](const stdfs::path& dir) -> std::unique_ptr<contract_backend> {
            if (!under_test(engine)) return nullptr;
            return std::make_unique<s3_backend>(engine, dir);
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract,
                         ::testing::Values(on_engine("swift"), on_engine("ceph")),
                         contract_param_name);

}  // namespace

namespace wal_contract {

// One prefix per test directory: a second open() of the same directory is another instance on
// the same archive.
wal_backend wal_on_engine(const std::string& engine) {
  return {engine, [engine](const stdfs::path& dir) -> std::unique_ptr<receiver::storage> {
            if (!under_test(engine)) return nullptr;
            static std::map<std::string, std::string> prefixes;
            auto& prefix = prefixes[dir.string()];
            if (prefix.empty()) prefix = fresh_prefix();
            return std::make_unique<receiver::s3::s3_storage>(
                s3_config(engine, prefix, dir / ".incoming"));
          }};
}

INSTANTIATE_TEST_SUITE_P(Backends, WalStoreContract,
                         ::testing::Values(wal_on_engine("swift"), wal_on_engine("ceph")),
                         wal_backend_name);

}  // namespace wal_contract

namespace {

// What only an S3 store has: a bucket with multipart uploads and object lock.
class S3Store : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!under_test(GetParam())) GTEST_SKIP() << GetParam() << " is not in PGSHIP_STORAGE_BACKENDS";
    stdfs::create_directories(spool_dir());
    cfg_ = s3_config(GetParam(), fresh_prefix(), spool_dir());
  }
  stdfs::path spool_dir() const { return dir_.path() / ".incoming"; }

  temp_dir dir_;
  receiver::s3::s3_settings cfg_;
};

TEST_P(S3Store, AnUploadLeftByAKilledReceiverIsAbortedAtStart) {
  // What a receiver killed mid-upload leaves: an open multipart upload and its journal.
  receiver::s3::bucket b(cfg_.client);
  std::string upload_id;
  const auto key = cfg_.prefix + "app/app/app-20261201-030000.dump";
  ASSERT_FALSE(b.create_multipart(key, {}, upload_id));
  write_file(spool_dir() / "upload-killed.s3upload", key + "\n" + upload_id + "\n");
  ASSERT_EQ(open_uploads(cfg_), 1u);
  const receiver::s3::s3_storage restarted(cfg_);
  EXPECT_TRUE(restarted.capabilities().stages_outside_spool);
  EXPECT_EQ(open_uploads(cfg_), 0u);
  EXPECT_FALSE(stdfs::exists(spool_dir() / "upload-killed.s3upload"));
  const auto seen = restarted.list("app", std::nullopt);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->empty());
}

TEST_P(S3Store, ObjectLockHoldsOrTheStoreRefusesToStart) {
  auto cfg = cfg_;
  cfg.object_lock_days = 1;
  const auto& engine = s3_engine::shared(GetParam());
  if (!engine.object_lock()) {
    // Swift ignores object lock headers: a lock it would not keep is refused, not assumed.
    EXPECT_THROW(receiver::s3::s3_storage{cfg}, config::config_error);
    return;
  }
  receiver::s3::s3_storage store(cfg);
  EXPECT_TRUE(store.capabilities().object_lock);
  const auto commit = [&](const std::string& name, const std::string& bytes) {
    const auto p = spool_dir() / (name + ".part");
    write_file(p, bytes);
    const auto done = store.commit({p, "app", name, sha256_of(bytes), bytes.size(), nullptr});
    ASSERT_TRUE(done) << done.error().message();
    EXPECT_EQ(done->outcome, receiver::commit_outcome::created);
  };
  commit("app-20261201-030000.dump", "kept for a day");
  const auto key = cfg.prefix + "app/app/app-20261201-030000.dump";
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
  const auto parts = engine.signed_curl(cfg.prefix + "app/app/app-20261202-030000.dump", {"-I"});
  EXPECT_NE(parts.body.find("x-amz-object-lock-mode: COMPLIANCE"), std::string::npos) << parts.body;
}

TEST_P(S3Store, TheArchiveIsObjectsWithTheirMetaAndNoBackup) {
  receiver::s3::s3_storage store(cfg_);
  auto& wal = *store.wal();
  const receiver::wal_key key{"app", "7000000000000000001"};
  ASSERT_TRUE(wal.claim_system(key, 1 << 20));
  const auto spooled = spool_dir() / "wal-1.part";
  write_file(spooled, "sealed");
  const receiver::wal_unit_meta meta{sha256_of("plain"),        5,
                                     sha256_of("sealed"),       6,
                                     "1765000000000@0/3000000", std::chrono::system_clock::now()};
  const auto seg = "000000010000000000000003";
  const auto unit = std::string(seg) + ".00000000-00100000.zst.age";
  ASSERT_TRUE(wal.put({key, *receiver::parse_wal_file_name(unit), spooled, meta}));
  EXPECT_FALSE(stdfs::exists(spooled));
  // A backup's name under the archive's prefix must not be picked up either.
  receiver::s3::bucket b(cfg_.client);
  const auto wal_root = cfg_.prefix + ".wal/";
  ASSERT_FALSE(b.put(wal_root + "app/app/app-20261201-030000.dump", "x", {}));
  ASSERT_FALSE(b.put(wal_root + "app/app/app-20261201-030000.dump.json", "{}", {}));

  // As an independent client sees it: one object, its meta in its headers, no sidecar.
  const auto& engine = s3_engine::shared(GetParam());
  const auto object = wal_root + "app/7000000000000000001/" + seg + "/" + unit;
  const auto head = engine.signed_curl(object, {"-I"});
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_NE(head.body.find("x-amz-meta-plaintext-sha256: " + to_hex(sha256_of("plain"))),
            std::string::npos)
      << head.body;
  EXPECT_NE(head.body.find("x-amz-meta-time-map-0: 1765000000000@0/3000000"), std::string::npos)
      << head.body;
  EXPECT_EQ(engine.signed_curl(object).body, "sealed");
  EXPECT_EQ(engine.signed_curl(object + ".json").status, 404);
  EXPECT_EQ(engine.signed_curl(wal_root + "app/7000000000000000001/meta.json").status, 200);

  // Never a backup, never backup usage: not at start, not after a refresh.
  receiver::s3::s3_storage restarted(cfg_);
  EXPECT_TRUE(restarted.usage().empty());
  EXPECT_TRUE(restarted.list("app", std::nullopt).value().empty());
  EXPECT_TRUE(restarted.list(".wal", std::nullopt).value().empty());
  EXPECT_FALSE(restarted.find(".wal", "app-20261201-030000.dump").value());
  ASSERT_FALSE(restarted.refresh());
  EXPECT_TRUE(restarted.usage().empty());
  EXPECT_EQ(restarted.quarantined(), 0u);
  // A backup beside it counts as one.
  const auto dump = spool_dir() / "dump.part";
  write_file(dump, "dump");
  ASSERT_TRUE(restarted.commit(
      {dump, "app", "app-20261202-030000.dump", sha256_of(std::string("dump")), 4, nullptr}));
  ASSERT_FALSE(restarted.refresh());
  EXPECT_EQ(restarted.usage()["app"], (std::pair<std::uint64_t, std::uint64_t>{4, 1}));
}

TEST_P(S3Store, AConditionalPutIsRefusedOnlyWhereTheEngineHasNone) {
  // Swift's s3api refuses If-None-Match: * on PUT (501): the store then looks before it puts.
  // Ceph RGW takes the header; in this versioned (object-lock) bucket RGW 16 was seen to write a
  // new version anyway, so across replicas the stem's lookup is what keeps a name create-only
  // there too (within one receiver, the per-stem lock).
  receiver::s3::bucket b(cfg_.client);
  const auto key = cfg_.prefix + "taken";
  ASSERT_FALSE(b.put(key, "first", {}));
  std::string etag;
  const std::string text = "second";
  const auto ec = b.put_if_absent(key, {.text = text}, {}, etag);
  if (GetParam() == "ceph") {
    EXPECT_TRUE(!ec || ec == std::errc::file_exists) << ec.message();
    EXPECT_FALSE(b.put_if_absent(cfg_.prefix + "free", {.text = text}, {}, etag));
  } else {
    EXPECT_EQ(ec, std::errc::not_supported) << ec.message();
    std::optional<std::string> kept;
    ASSERT_FALSE(b.get_text(key, kept));
    EXPECT_EQ(kept, "first");
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, S3Store, ::testing::Values("swift", "ceph"),
                         [](const auto& engine) { return engine.param; });

}  // namespace
}  // namespace pgship::test

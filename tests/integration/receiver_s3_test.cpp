// pgship-receiver processes with STORAGE_BACKEND=s3 on a real engine (OpenStack Swift's s3api,
// started by the project's own fixture): raw, multipart and tus uploads land as objects that
// an independent client (curl --aws-sigv4) reads back with the listed sha256; list, ranged
// download and delete go through the bucket; a hash mismatch and a receiver killed with -9
// mid-upload leave nothing visible; two receivers on one bucket serve each other's backups;
// a bucket that cannot work as configured stops the receiver at start; a backup's manifest is
// an object beside it, served, never listed or counted, and deleted with it; the physical
// archive's units go into the bucket under .wal/ (created, identical, conflict), are read back,
// listed for restore and counted in the state by this receiver and a second one, and are no
// backups.

#include <chrono>
#include <csignal>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "curl.hpp"
#include "fault_proxy.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"
#include "s3_engine.hpp"
#include "storage/s3/bucket.hpp"
#include "test_pki.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using verb = boost::beast::http::verb;
constexpr const char* token = "s3-test-token-0123456789abcdef";

class ReceiverS3 : public receiver_fixture {
 protected:
  ReceiverS3() : receiver_fixture(token) {}

  void SetUp() override {
    static int n = 0;
    prefix_ = "receiver-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "/";
  }

  s3_engine& engine() { return s3_engine::shared("swift"); }
  std::map<std::string, std::string> env() { return engine().receiver_env(prefix_); }
  std::string auth() const { return std::string("Authorization: Bearer ") + token; }

  // The bucket through our own client (curl signs listing queries wrongly).
  receiver::s3::bucket bucket() {
    return receiver::s3::bucket(
        {engine().endpoint(), engine().bucket(), {engine().access_key(), engine().secret_key()}});
  }
  // Multipart uploads open on the engine under this test's prefix.
  std::size_t open_uploads() {
    std::vector<receiver::s3::upload_entry> uploads;
    EXPECT_FALSE(bucket().list_multipart(prefix_, uploads));
    return uploads.size();
  }

  // The object as the engine holds it, read by curl: "" with status != 200 when absent.
  curl_result object(const std::string& key) { return engine().signed_curl(prefix_ + key); }

  stdfs::path file_with(const std::string& bytes) {
    static int n = 0;
    const auto p = dir_ / ("upload-" + std::to_string(++n));
    write_file(p, bytes);
    return p;
  }

  curl_result raw_upload(receiver_process& r, const std::string& name, const stdfs::path& file,
                         const std::string& sha) {
    return curl({"-H", auth(), "-H", "X-Backup-Name: " + name, "-H", "X-Content-SHA256: " + sha,
                 "--data-binary", "@" + file.string(), r.url("/api/backup/upload")});
  }

  std::string prefix_;
};

TEST_F(ReceiverS3, EveryUploadFormLandsAsObjectsAnIndependentClientReads) {
  auto& r = start(env());
  const auto bytes = random_bytes(30 << 20, 1);  // several parts
  const auto sha = to_hex(sha256_of(bytes));
  const auto file = file_with(bytes);

  auto raw = raw_upload(r, "app-20261201-010000.dump", file, sha);
  ASSERT_EQ(raw.status, 201) << raw.body << raw.error;
  const auto form = dir_ / "app-20261201-020000.dump";
  stdfs::copy_file(file, form);
  auto multipart = curl({"-H", auth(), "-F", "file=@" + form.string(), "-F", "sha256=" + sha,
                         r.url("/api/backup/upload")});
  ASSERT_EQ(multipart.status, 201) << multipart.body << multipart.error;

  // tus, in three PATCHes of 10 MiB.
  const std::map<std::string, std::string> tus{{"Authorization", std::string("Bearer ") + token},
                                               {"Tus-Resumable", "1.0.0"}};
  auto create = tus;
  create["Upload-Length"] = std::to_string(bytes.size());
  create["Upload-Metadata"] =
      "filename " + base64_encode("app-20261201-030000.dump") + ",sha256 " + base64_encode(sha);
  auto created = http_send(
      r.port(), {.method = verb::post, .target = "/api/backup/uploads", .headers = create});
  ASSERT_EQ(created.result_int(), 201) << created.body();
  const std::string location(created["Location"]);
  for (std::size_t at = 0; at < bytes.size(); at += 10 << 20) {
    auto h = tus;
    h["Upload-Offset"] = std::to_string(at);
    h["Content-Type"] = "application/offset+octet-stream";
    auto res = http_send(r.port(), {.method = verb::patch,
                                    .target = location,
                                    .headers = h,
                                    .body = bytes.substr(at, 10 << 20)});
    ASSERT_EQ(res.result_int(), 204) << res.body();
  }

  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  ASSERT_EQ(list.status, 200);
  for (const char* id :
       {"app-20261201-010000.dump", "app-20261201-020000.dump", "app-20261201-030000.dump"}) {
    EXPECT_NE(list.body.find(id), std::string::npos) << id << " not listed: " << list.body;
    // The receiver's own layout, read by curl --aws-sigv4 straight from the bucket.
    const auto stored = object("default/app/" + std::string(id));
    ASSERT_EQ(stored.status, 200) << id << stored.body.substr(0, 300);
    EXPECT_EQ(to_hex(sha256_of(stored.body)), sha) << id;
    const auto record = object("default/app/" + std::string(id) + ".json");
    EXPECT_NE(record.body.find(sha), std::string::npos) << record.body;
    const auto sidecar = object("default/app/" + std::string(id) + ".sha256");
    EXPECT_EQ(sidecar.body, sha + "  " + id + "\n");
  }
  EXPECT_EQ(open_uploads(), 0u) << "every multipart upload was completed";
  EXPECT_EQ(list.body.find(".incoming"), std::string::npos);
}

TEST_F(ReceiverS3, ThePhysicalArchiveIsKeptInTheBucket) {
  auto& r = start(env());
  namespace wal_wire = wire::wal;
  const std::string sys = "7291436153284653321";
  const std::string seg = "000000010000000000000003";
  const std::string first = seg + ".00000000-00001000";
  const std::string second = seg + ".00001000-00002000.age";
  const auto plain1 = random_bytes(0x1000, 31);
  const auto plain2 = random_bytes(0x1000, 32);
  // A unit as the agent sends it: stored bytes and the plaintext they hold.
  const auto put = [&](receiver_process& to, const std::string& name, const std::string& stored,
                       const std::string& plain) {
    return http_send(
        to.port(),
        {.method = verb::put,
         .target = wal_wire::unit_path(sys, name),
         .headers = {{"Authorization", std::string("Bearer ") + token},
                     {"X-Content-SHA256", to_hex(sha256_of(stored))},
                     {std::string(wal_wire::header::plaintext_sha256), to_hex(sha256_of(plain))},
                     {std::string(wal_wire::header::plaintext_size), std::to_string(plain.size())},
                     {std::string(wal_wire::header::segment_size), std::to_string(1 << 20)},
                     {std::string(wal_wire::header::time_map), "1765000000000@0/300000"}},
         .body = stored});
  };
  const auto get = [&](receiver_process& from, const std::string& target) {
    return http_send(from.port(), {.target = target,
                                   .headers = {{"Authorization", std::string("Bearer ") + token}}});
  };
  const auto created = put(r, first, plain1, plain1);
  ASSERT_EQ(created.result_int(), 201) << created.body();
  ASSERT_EQ(put(r, second, "sealed-" + plain2, plain2).result_int(), 201);
  // The same WAL again, encrypted anew or with other codecs: identical; other WAL: a conflict.
  EXPECT_EQ(put(r, second, "sealed-again-" + plain2, plain2).result_int(), 200);
  EXPECT_EQ(put(r, first + ".zst", "z", plain1).result_int(), 200);
  const auto clash = put(r, first, plain2, plain2);
  EXPECT_EQ(clash.result_int(), 409) << clash.body();
  // One object per unit under the prefix's .wal/, holding the first bytes stored.
  // (BACKUP_API_TOKEN's client is "default".)
  const auto dir = ".wal/default/" + sys + "/" + seg + "/";
  EXPECT_TRUE(object(dir + first).body == plain1);
  EXPECT_TRUE(object(dir + second).body == "sealed-" + plain2);
  EXPECT_EQ(object(dir + first + ".zst").status, 404);

  // Read back, listed for restore, and the state, from this receiver and from a second one on
  // the same bucket (which loads its index from the listing).
  auto e = env();
  e["BACKUP_API_TOKEN"] = token;
  receiver_process other(e);
  for (receiver_process* from : {&r, &other}) {
    const auto unit = get(*from, wal_wire::unit_path(sys, second));
    EXPECT_EQ(unit.result_int(), 200);
    EXPECT_TRUE(unit.body() == "sealed-" + plain2);
    EXPECT_EQ(unit[std::string(wal_wire::header::plaintext_sha256)], to_hex(sha256_of(plain2)));
    const auto list = get(*from, wal_wire::segment_path(sys, seg));
    ASSERT_EQ(list.result_int(), 200) << list.body();
    EXPECT_EQ(wal_wire::decode_list(list.body()),
              (wal_wire::segment_list{
                  1 << 20, wal_wire::list_state::partial, {{first, 0}, {second, 0x1000}}}));
    const auto state = get(*from, wal_wire::system_path(sys));
    ASSERT_EQ(state.result_int(), 200) << state.body();
    const auto decoded = wal_wire::decode_state(state.body());
    ASSERT_TRUE(decoded) << state.body();
    EXPECT_EQ(decoded->durable_end(), (wal_wire::archive_state::position{1, 0x300000 + 0x2000}));
  }
  // Never a backup: not listed, not counted.
  const auto listed = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(listed.body.find(".wal"), std::string::npos) << listed.body;
  EXPECT_EQ(listed.body.find(seg), std::string::npos) << listed.body;
  EXPECT_EQ(http_send(r.port(), {.method = verb::put, .target = wal_wire::unit_path(sys, first)})
                .result_int(),
            401)
      << "the token is checked first";
}

TEST_F(ReceiverS3, ListRangeDownloadAndDeleteGoThroughTheBucket) {
  auto& r = start(env());
  const auto bytes = random_bytes(3 << 20, 2);
  const auto sha = to_hex(sha256_of(bytes));
  ASSERT_EQ(raw_upload(r, "app-20261201-010000.dump", file_with(bytes), sha).status, 201);
  ASSERT_EQ(raw_upload(r, "app-20261202-010000.dump", file_with("second"),
                       to_hex(sha256_of(std::string("second"))))
                .status,
            201);
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  ASSERT_EQ(list.status, 200);
  EXPECT_LT(list.body.find("app-20261202-010000.dump"), list.body.find("app-20261201-010000.dump"))
      << "newest first: " << list.body;

  auto ranged = curl({"-H", auth(), "-H", "Range: bytes=1000-1999",
                      r.url("/api/backup/download/app-20261201-010000.dump")});
  EXPECT_EQ(ranged.status, 206);
  EXPECT_EQ(ranged.body, bytes.substr(1000, 1000));
  auto tail = curl({"-H", auth(), "-H", "Range: bytes=-10",
                    r.url("/api/backup/download/app-20261201-010000.dump")});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, bytes.substr(bytes.size() - 10));
  auto whole = curl({"-H", auth(), r.url("/api/backup/download/app-20261201-010000.dump")});
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(to_hex(sha256_of(whole.body)), sha);
  auto checksum =
      curl({"-H", auth(), r.url("/api/backup/download/app-20261201-010000.dump.sha256")});
  EXPECT_EQ(checksum.body, sha + "  app-20261201-010000.dump\n");

  auto del = curl({"-X", "DELETE", "-H", auth(), r.url("/api/backup/app-20261201-010000.dump")});
  EXPECT_EQ(del.status, 204) << del.body;
  EXPECT_EQ(curl({"-H", auth(), r.url("/api/backup/download/app-20261201-010000.dump")}).status,
            404);
  list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(list.body.find("app-20261201-010000.dump"), std::string::npos) << list.body;
  for (const char* suffix : {"", ".json", ".sha256"}) {
    EXPECT_EQ(object("default/app/app-20261201-010000.dump" + std::string(suffix)).status, 404)
        << "deleted from the bucket: " << suffix;
  }
}

TEST_F(ReceiverS3, AManifestIsAnObjectBesideItsBackupAndGoesWithIt) {
  auto& r = start(env());
  const std::string id = "app-20261201-010000.dump.age";
  const std::string name = id + ".manifest.json.age";
  const std::string manifest = "age-encryption.org/v1\n-> X25519 abc\n--- sealed";
  const auto manifest_sha = to_hex(sha256_of(manifest));
  auto missing = raw_upload(r, name, file_with(manifest), manifest_sha);
  EXPECT_EQ(missing.status, 404) << "no backup yet: " << missing.body;
  EXPECT_NE(missing.body.find("\"error\":\"not_found\""), std::string::npos) << missing.body;
  ASSERT_EQ(raw_upload(r, id, file_with("ciphertext"), to_hex(sha256_of(std::string("ciphertext"))))
                .status,
            201);
  EXPECT_EQ(raw_upload(r, name, file_with(manifest), to_hex(sha256_of(std::string("x")))).status,
            422);
  EXPECT_EQ(object("default/app/" + name).status, 404) << "a mismatch keeps nothing";
  auto up = raw_upload(r, name, file_with(manifest), manifest_sha);
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(raw_upload(r, name, file_with(manifest), manifest_sha).status, 200);

  // An object beside the backup's, as sent; served back; never listed or counted.
  const auto stored = object("default/app/" + name);
  EXPECT_EQ(stored.status, 200);
  EXPECT_EQ(stored.body, manifest);
  auto got = curl({"-i", "-H", auth(), r.url("/api/backup/download/" + id + ".manifest")});
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body.ends_with("\r\n\r\n" + manifest)) << got.body;
  EXPECT_NE(got.body.find("X-Manifest-Name: " + name), std::string::npos) << got.body;
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_NE(list.body.find(id), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("manifest"), std::string::npos) << list.body;
  EXPECT_TRUE(wait_until(
      [&] {
        const auto m = curl({r.url("/metrics")});
        return m.body.find("pgship_receiver_backups{client=\"default\"} 1\n") != std::string::npos;
      },
      std::chrono::seconds(30)));

  ASSERT_EQ(curl({"-X", "DELETE", "-H", auth(), r.url("/api/backup/" + id)}).status, 204);
  EXPECT_EQ(object("default/app/" + name).status, 404) << "deleted with its backup";
  EXPECT_EQ(curl({"-H", auth(), r.url("/api/backup/download/" + id + ".manifest")}).status, 404);
}

TEST_F(ReceiverS3, AHashMismatchCommitsNothing) {
  auto& r = start(env());
  for (const std::size_t size : {std::size_t{1000}, std::size_t{20} << 20}) {
    const auto bytes = random_bytes(size, 3);
    const auto wrong = to_hex(sha256_of(bytes + "x"));
    auto res = raw_upload(r, "app-20261201-010000.dump", file_with(bytes), wrong);
    EXPECT_EQ(res.status, 422) << res.body;
    EXPECT_EQ(object("default/app/app-20261201-010000.dump").status, 404);
    EXPECT_EQ(object("default/app/app-20261201-010000.dump.json").status, 404);
    EXPECT_TRUE(wait_until([&] { return open_uploads() == 0; }, std::chrono::seconds(20)))
        << "the parts already sent are aborted";
  }
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(list.body, "[]");
}

TEST_F(ReceiverS3, AReceiverKilledMidUploadLeavesNothingVisible) {
  auto& r = start(env());
  const auto bytes = random_bytes(40 << 20, 4);
  const auto file = file_with(bytes);
  // curl at 4 MiB/s: parts go up while the body is still arriving.
  auto upload = std::async(std::launch::async, [&] {
    return curl({"--limit-rate", "4M", "-H", auth(), "-H",
                 "X-Backup-Name: app-20261201-010000.dump", "-H",
                 "X-Content-SHA256: " + to_hex(sha256_of(bytes)), "--data-binary",
                 "@" + file.string(), r.url("/api/backup/upload")});
  });
  ASSERT_TRUE(wait_until([&] { return open_uploads() == 1; }, std::chrono::seconds(30)))
      << "a part went up before the body ended";
  r.stop(SIGKILL);
  // No final answer (curl reports the interim 100 Continue, or nothing).
  const auto cut = upload.get();
  EXPECT_NE(cut.status, 201) << "the upload was cut: " << cut.body;
  EXPECT_NE(cut.status, 200);
  EXPECT_EQ(object("default/app/app-20261201-010000.dump").status, 404);
  EXPECT_EQ(object("default/app/app-20261201-010000.dump.json").status, 404);
  // Restarted on the same spool, it aborts what it left and lists nothing.
  r.restart();
  EXPECT_EQ(open_uploads(), 0u);
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(list.body, "[]");
  EXPECT_NE(r.log().find("aborted the S3 upload"), std::string::npos) << r.log();
}

TEST_F(ReceiverS3, TwoReceiversOnOneBucketServeEachOthersBackups) {
  auto& a = start(env());
  auto e = env();
  e["BACKUP_API_TOKEN"] = token;
  receiver_process b(e);
  const auto bytes = random_bytes(12 << 20, 5);
  const auto sha = to_hex(sha256_of(bytes));
  ASSERT_EQ(raw_upload(a, "app-20261201-010000.dump", file_with(bytes), sha).status, 201);
  auto listed = curl({"-H", auth(), b.url("/api/backup/list")});
  EXPECT_NE(listed.body.find(sha), std::string::npos) << listed.body;
  auto down = curl({"-H", auth(), b.url("/api/backup/download/app-20261201-010000.dump")});
  EXPECT_EQ(to_hex(sha256_of(down.body)), sha);
  // The same name again on the other one: identical, not a second copy.
  auto again = raw_upload(b, "app-20261201-010000.dump", file_with(bytes), sha);
  EXPECT_EQ(again.status, 200) << again.body;
  auto other = raw_upload(b, "app-20261201-010000.dump", file_with("other"),
                          to_hex(sha256_of(std::string("other"))));
  EXPECT_EQ(other.status, 409) << other.body;
  ASSERT_EQ(
      curl({"-X", "DELETE", "-H", auth(), b.url("/api/backup/app-20261201-010000.dump")}).status,
      204);
  EXPECT_EQ(curl({"-H", auth(), a.url("/api/backup/download/app-20261201-010000.dump")}).status,
            404);
  // Usage is re-read from the bucket within seconds (metrics, quota).
  ASSERT_EQ(
      raw_upload(b, "app-20261202-010000.dump", file_with("x"), to_hex(sha256_of(std::string("x"))))
          .status,
      201);
  EXPECT_TRUE(wait_until(
      [&] {
        const auto m = curl({a.url("/metrics")});
        return m.body.find("pgship_receiver_backups{client=\"default\"} 1") != std::string::npos;
      },
      std::chrono::seconds(30)));
}

TEST_F(ReceiverS3, ABucketThatCannotWorkStopsTheStart) {
  const auto run = [&](std::map<std::string, std::string> extra) {
    auto e = env();
    e["BACKUP_API_TOKEN"] = token;
    e["STORAGE_DIR"] = (dir_ / "spool").string();
    e["PORT"] = "0";
    e["LISTEN_ADDR"] = "127.0.0.1";
    for (auto& [k, v] : extra)
      e[k] = v;
    return run_process({receiver_binary()}, {.env = e, .timeout = std::chrono::seconds(60)});
  };
  const auto secret = engine().secret_key();
  auto wrong = run({{"S3_SECRET_ACCESS_KEY", "not-the-secret-" + secret.substr(0, 4)}});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("SignatureDoesNotMatch"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find(secret), std::string::npos);
  auto no_bucket = run({{"S3_BUCKET", "no-such-bucket"}});
  EXPECT_EQ(no_bucket.exit_code, 2) << no_bucket.err;
  auto lock = run({{"S3_OBJECT_LOCK_DAYS", "30"}});
  EXPECT_EQ(lock.exit_code, 2);
  EXPECT_NE(lock.err.find("object lock"), std::string::npos) << lock.err;
  auto mixed = run({{"STORAGE_BACKEND", "fs"}});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("STORAGE_BACKEND=fs"), std::string::npos) << mixed.err;
  // With the secret from a file, as the Secret in Kubernetes gives it, it starts; the secret
  // is in no argv and no log line.
  write_file(dir_ / "secret", secret + "\n");
  auto e = env();
  e.erase("S3_SECRET_ACCESS_KEY");
  e["S3_SECRET_ACCESS_KEY_FILE"] = (dir_ / "secret").string();
  auto& r = start(e);
  EXPECT_EQ(curl({r.url("/health")}).status, 200);
  EXPECT_EQ(r.log().find(secret), std::string::npos);
}

TEST_F(ReceiverS3, TheScrubRehashesObjectsAndQuarantinesARottenOne) {
  auto e = env();
  e["SCRUB_RATE"] = "50M";
  auto& r = start(e);
  const auto good = random_bytes(2 << 20, 6);
  const auto bad = random_bytes(2 << 20, 7);
  ASSERT_EQ(
      raw_upload(r, "app-20261201-010000.dump", file_with(good), to_hex(sha256_of(good))).status,
      201);
  ASSERT_EQ(
      raw_upload(r, "app-20261202-010000.dump", file_with(bad), to_hex(sha256_of(bad))).status,
      201);
  // The bytes change in the bucket behind the receiver's back (bit rot, a wrong hand).
  const auto rotten = dir_ / "rotten";
  write_file(rotten, bad.substr(0, bad.size() - 1) + "!");
  ASSERT_EQ(engine()
                .signed_curl(prefix_ + "default/app/app-20261202-010000.dump",
                             {"-X", "PUT", "--data-binary", "@" + rotten.string()})
                .status,
            200);
  auto started = curl({"-X", "POST", "-H", auth(), r.url("/api/backup/scrub")});
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_TRUE(wait_until([&] { return r.log().find("scrub completed") != std::string::npos; },
                         std::chrono::seconds(30)));
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(list.body.find("app-20261202-010000.dump"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("app-20261201-010000.dump"), std::string::npos) << list.body;
  const auto health = curl({r.url("/health")});
  EXPECT_EQ(health.status, 503);
  EXPECT_NE(r.log().find("moved to .quarantine/"), std::string::npos);
  const auto metrics = curl({r.url("/metrics")});
  EXPECT_NE(metrics.body.find("pgship_receiver_corrupt_backups 1"), std::string::npos);
  // The evidence stays in the bucket: the bytes, and the finding under .quarantine/.
  EXPECT_EQ(object("default/app/app-20261202-010000.dump").status, 200);
  std::vector<receiver::s3::object_entry> findings;
  ASSERT_FALSE(bucket().list(prefix_ + ".quarantine/", findings));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_NE(findings[0].key.find("default/app/app-20261202-010000.dump."), std::string::npos);
}

TEST_F(ReceiverS3, AnHttpsEndpointIsVerifiedAgainstS3CaFile) {
  stdfs::create_directories(dir_ / "pki");
  const test_pki pki(dir_ / "pki");
  s3_engine own("swift", pki.dir);
  ASSERT_TRUE(own.endpoint().starts_with("https://")) << own.endpoint();
  auto e = own.receiver_env(prefix_);
  e["S3_CA_FILE"] = pki.path("ca.crt");
  auto& r = start(e);
  const auto bytes = random_bytes(9 << 20, 8);  // a part and a PUT's worth, over TLS
  const auto sha = to_hex(sha256_of(bytes));
  ASSERT_EQ(raw_upload(r, "app-20261201-010000.dump", file_with(bytes), sha).status, 201);
  auto down = curl({"-H", auth(), r.url("/api/backup/download/app-20261201-010000.dump")});
  EXPECT_EQ(to_hex(sha256_of(down.body)), sha);
  EXPECT_EQ(
      to_hex(sha256_of(own.signed_curl(prefix_ + "default/app/app-20261201-010000.dump").body)),
      sha);
  r.stop();
  // Without the CA (the system store does not know it), the receiver does not start.
  e.erase("S3_CA_FILE");
  e["BACKUP_API_TOKEN"] = token;
  e["STORAGE_DIR"] = (dir_ / "spool2").string();
  e["PORT"] = "0";
  const auto refused =
      run_process({receiver_binary()}, {.env = e, .timeout = std::chrono::seconds(60)});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("certificate verify failed"), std::string::npos) << refused.err;
}

TEST_F(ReceiverS3, ListingsFollowEveryPage) {
  auto b = bucket();
  for (int i = 0; i < 5; ++i)
    ASSERT_FALSE(b.put(prefix_ + "page/" + std::to_string(i), "x", {}));
  std::vector<receiver::s3::object_entry> all;
  ASSERT_FALSE(b.list(prefix_ + "page/", all, 2));  // three pages
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(all[static_cast<std::size_t>(i)].key, prefix_ + "page/" + std::to_string(i));
}

TEST_F(ReceiverS3, AConnectionCutMidUploadIsRetried) {
  // The engine behind a proxy that cuts connections after 100 kB of request bytes.
  const auto& ep = engine().endpoint();
  fault_proxy proxy(static_cast<unsigned short>(std::stoi(ep.substr(ep.rfind(':') + 1))));
  auto e = env();
  e["S3_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(proxy.port());
  // Planned before the start: a connection's fate is set when it is accepted, and the
  // receiver keeps its first one for the upload's requests.
  proxy.cut_after(100000, 2);
  auto& r = start(e);
  const auto bytes = random_bytes(3 << 20, 9);  // one PUT, sent again after each cut
  const auto sha = to_hex(sha256_of(bytes));
  const auto res = raw_upload(r, "app-20261201-010000.dump", file_with(bytes), sha);
  EXPECT_EQ(res.status, 201) << res.body;
  EXPECT_GE(proxy.connections_cut(), 1);
  EXPECT_EQ(to_hex(sha256_of(object("default/app/app-20261201-010000.dump").body)), sha);
}

TEST_F(ReceiverS3, ALostBucketTurnsHealthDegraded) {
  auto own = std::make_unique<s3_engine>("swift");  // this one is stopped midway
  auto e = own->receiver_env(prefix_);
  auto& r = start(e);
  EXPECT_EQ(curl({r.url("/health")}).status, 200);
  own.reset();
  curl_result health;
  EXPECT_TRUE(wait_until(
      [&] {
        health = curl({r.url("/health")});
        return health.status == 503;
      },
      std::chrono::seconds(30)));
  EXPECT_NE(health.body.find("cannot list S3 bucket"), std::string::npos) << health.body;
  auto list = curl({"-H", auth(), r.url("/api/backup/list")});
  EXPECT_EQ(list.status, 500) << list.body;
}

}  // namespace
}  // namespace pgship::test

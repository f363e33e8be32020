// A backup's manifest travels with it (DESIGN.md "Backup naming and files"), on a real
// pgship-receiver process (STORAGE_BACKEND=fs; receiver_s3_test and storage_contract_test hold
// the S3 side): uploaded raw after its backup as `<id>.manifest.json[.age]`, stored beside it,
// served at GET /api/backup/download/{id}.manifest, never listed or counted as a backup, and
// removed with its backup by DELETE and by retention. Every refusal leaves nothing behind.

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "curl.hpp"
#include "http_client.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using verb = boost::beast::http::verb;

const std::string token = "manifest-token-3e9b";
const std::string backup_id = "app-20261121-030000.dump";
const std::string manifest_name = backup_id + ".manifest.json";

class ReceiverManifest : public receiver_fixture {
 protected:
  ReceiverManifest() : receiver_fixture(token) {}

  http_response send(verb method, const std::string& target,
                     std::map<std::string, std::string> headers = {}, std::string body = {},
                     const std::string& as = token) {
    headers.emplace("Authorization", "Bearer " + as);
    return http_send(receiver_->port(), {.method = method,
                                         .target = target,
                                         .headers = std::move(headers),
                                         .body = std::move(body)});
  }
  // POST /api/backup/upload, raw, with the body's own sha256 unless `sha` is given.
  http_response upload(const std::string& name, const std::string& bytes,
                       std::optional<std::string> sha = std::nullopt,
                       const std::string& as = token) {
    return send(
        verb::post, "/api/backup/upload",
        {{"X-Backup-Name", name}, {"X-Content-SHA256", sha.value_or(to_hex(sha256_of(bytes)))}},
        bytes, as);
  }
  http_response get_manifest(const std::string& id = backup_id, const std::string& as = token) {
    return send(verb::get, "/api/backup/download/" + id + ".manifest", {}, {}, as);
  }
  stdfs::path stored(const std::string& name, const std::string& client = "default") const {
    return receiver_->storage_dir() / client / "app" / name;
  }
  std::string list() { return send(verb::get, "/api/backup/list").body(); }
};

std::string error_of(const http_response& res) {
  const auto at = res.body().find("\"error\":\"");
  if (at == std::string::npos) return "(no JSON error: " + res.body() + ")";
  return res.body().substr(at + 9, res.body().find('"', at + 9) - at - 9);
}

TEST_F(ReceiverManifest, AManifestIsStoredBesideItsBackupServedAndDeletedWithIt) {
  start();
  ASSERT_EQ(upload(backup_id, "the backup's bytes").result_int(), 201);
  const std::string manifest = R"({"name":")" + backup_id + R"(","tables":[]})" + "\n";
  const auto stored_answer = upload(manifest_name, manifest);
  ASSERT_EQ(stored_answer.result_int(), 201) << stored_answer.body();
  EXPECT_NE(stored_answer.body().find(to_hex(sha256_of(manifest))), std::string::npos);
  // A retry of the same bytes changes nothing.
  EXPECT_EQ(upload(manifest_name, manifest).result_int(), 200);

  const auto got = get_manifest();
  ASSERT_EQ(got.result_int(), 200) << got.body();
  EXPECT_EQ(got.body(), manifest);
  EXPECT_EQ(got["Content-Type"], "application/json");
  EXPECT_EQ(got["X-Manifest-Name"], manifest_name);
  EXPECT_EQ(read_file(stored(manifest_name)), manifest) << "beside the backup, as sent";
  EXPECT_EQ(stdfs::status(stored(manifest_name)).permissions(),
            stdfs::status(stored(backup_id)).permissions())
      << "as private as the backup: it may name every table";

  // Never a backup: not in the list, not downloadable as one, not counted.
  const auto listed = list();
  EXPECT_NE(listed.find(backup_id), std::string::npos) << listed;
  EXPECT_EQ(listed.find("manifest"), std::string::npos) << listed;
  EXPECT_EQ(send(verb::get, "/api/backup/download/" + manifest_name).result_int(), 404);
  const auto metrics = http_send(receiver_->port(), {.target = "/metrics"}).body();
  EXPECT_NE(metrics.find("pgship_receiver_backups{client=\"default\"} 1\n"), std::string::npos)
      << metrics;

  // A restart keeps it (start-up sweeps only what has no backup).
  receiver_->restart();
  EXPECT_EQ(get_manifest().body(), manifest);

  // It goes with its backup.
  ASSERT_EQ(send(verb::delete_, "/api/backup/" + backup_id).result_int(), 204);
  const auto gone = get_manifest();
  EXPECT_EQ(gone.result_int(), 404);
  EXPECT_EQ(error_of(gone), "not_found");
  EXPECT_FALSE(stdfs::exists(stored(manifest_name)));
  // The name uploaded again starts without one.
  ASSERT_EQ(upload(backup_id, "the backup's bytes").result_int(), 201);
  EXPECT_EQ(get_manifest().result_int(), 404);
}

TEST_F(ReceiverManifest, RefusalsAreTheirOwnAnswersAndKeepNothing) {
  // BACKUP_API_TOKEN (every scope) is client `default`'s.
  write_file(dir_ / "tokens",
             "default:read:reader-token\n"
             "other:upload,read:other-token\n");
  start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}});
  const std::string manifest = "{\"tables\":[]}";

  // No backup (for this client): 404 with a JSON error, before and after the backup exists.
  auto missing = upload(manifest_name, manifest);
  EXPECT_EQ(missing.result_int(), 404) << missing.body();
  EXPECT_EQ(error_of(missing), "not_found");
  EXPECT_EQ(get_manifest().result_int(), 404);
  ASSERT_EQ(upload(backup_id, "bytes").result_int(), 201);
  EXPECT_EQ(upload(manifest_name, manifest, std::nullopt, "other-token").result_int(), 404)
      << "another client's backup is not found";
  auto none = get_manifest();
  EXPECT_EQ(none.result_int(), 404) << "a backup without a manifest";
  EXPECT_EQ(error_of(none), "not_found");

  // Scopes: upload needs upload, the download read.
  EXPECT_EQ(upload(manifest_name, manifest, std::nullopt, "reader-token").result_int(), 403);

  // A hash mismatch is 422 and keeps nothing.
  auto mismatch = upload(manifest_name, manifest, to_hex(sha256_of("something else")));
  EXPECT_EQ(mismatch.result_int(), 422) << mismatch.body();
  EXPECT_EQ(error_of(mismatch), "hash_mismatch");
  EXPECT_EQ(get_manifest().result_int(), 404);

  // Above 16 MiB: 413, declared or chunked.
  write_file(dir_ / "big.json", std::string((16 << 20) + 1, ' '));
  const auto auth = "Authorization: Bearer " + token;
  auto declared = curl({"-H", auth, "-H", "X-Backup-Name: " + manifest_name, "--data-binary",
                        "@" + (dir_ / "big.json").string(), receiver_->url("/api/backup/upload")});
  EXPECT_EQ(declared.status, 413) << declared.body << declared.error;
  auto chunked = curl({"-H", auth, "-H", "X-Backup-Name: " + manifest_name, "-H",
                       "Transfer-Encoding: chunked", "--data-binary",
                       "@" + (dir_ / "big.json").string(), receiver_->url("/api/backup/upload")});
  EXPECT_EQ(chunked.status, 413) << chunked.body << chunked.error;
  // Exactly 16 MiB is a manifest.
  write_file(dir_ / "limit.json", std::string(16 << 20, ' '));
  auto at_limit =
      curl({"-H", auth, "-H", "X-Backup-Name: " + manifest_name, "--data-binary",
            "@" + (dir_ / "limit.json").string(), receiver_->url("/api/backup/upload")});
  EXPECT_EQ(at_limit.status, 201) << at_limit.body << at_limit.error;
  EXPECT_EQ(get_manifest().body().size(), std::size_t{16} << 20);

  // Multipart is for backups; a manifest goes raw.
  write_file(dir_ / manifest_name, manifest);
  EXPECT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: " + manifest_name, "-F",
                  "file=@" + (dir_ / manifest_name).string(), receiver_->url("/api/backup/upload")})
                .status,
            400);
  // What is no manifest name of a backup stays a bad backup name.
  EXPECT_EQ(upload("app-20261121-030000.manifest.json", manifest).result_int(), 400);
  const auto listed = list();
  EXPECT_EQ(listed.find("manifest"), std::string::npos) << listed;
}

TEST_F(ReceiverManifest, AnEncryptedManifestIsServedAsBytesAndAppendOnlyKeepsTheFirst) {
  start({{"APPEND_ONLY", "true"}});
  const std::string id = "app-20261121-030000.dump.age";
  const std::string sealed_name = id + ".manifest.json.age";
  const std::string sealed = "age-encryption.org/v1\n-> X25519 abc\n---\x01\x02 binary";
  ASSERT_EQ(upload(id, "ciphertext").result_int(), 201);
  ASSERT_EQ(upload(sealed_name, sealed).result_int(), 201);
  const auto got = get_manifest(id);
  ASSERT_EQ(got.result_int(), 200);
  EXPECT_EQ(got.body(), sealed);
  EXPECT_EQ(got["Content-Type"], "application/octet-stream");
  EXPECT_EQ(got["X-Manifest-Name"], sealed_name);

  // APPEND_ONLY: the same bytes again are fine; other bytes, or a plain one, are refused (403,
  // as an overwritten backup is) and the first one stays.
  EXPECT_EQ(upload(sealed_name, sealed).result_int(), 200);
  const auto other = upload(sealed_name, sealed + "x");
  EXPECT_EQ(other.result_int(), 403) << other.body();
  EXPECT_EQ(error_of(other), "conflict");
  EXPECT_EQ(upload(id + ".manifest.json", "{}").result_int(), 403);
  EXPECT_EQ(get_manifest(id).body(), sealed);
  EXPECT_FALSE(stdfs::exists(stored(id + ".manifest.json")));
}

TEST_F(ReceiverManifest, AnotherManifestReplacesTheStoredOne) {
  start();
  ASSERT_EQ(upload(backup_id, "bytes").result_int(), 201);
  ASSERT_EQ(upload(manifest_name, "{\"v\":1}").result_int(), 201);
  EXPECT_EQ(upload(manifest_name, "{\"v\":2}").result_int(), 201);
  EXPECT_EQ(get_manifest().body(), "{\"v\":2}");
  // The encrypted name takes the plain one's place: one manifest per backup.
  EXPECT_EQ(upload(manifest_name + ".age", "sealed").result_int(), 201);
  const auto got = get_manifest();
  EXPECT_EQ(got["X-Manifest-Name"], manifest_name + ".age");
  EXPECT_EQ(got.body(), "sealed");
  EXPECT_FALSE(stdfs::exists(stored(manifest_name)));
}

TEST_F(ReceiverManifest, RetentionTakesTheManifestWithItsBackup) {
  start({{"KEEP_DAYS", "2"}});
  const std::string old_id = "app-20200101-030000.dump";
  ASSERT_EQ(upload(old_id, "old").result_int(), 201);
  ASSERT_EQ(upload(old_id + ".manifest.json", "{}").result_int(), 201);
  ASSERT_TRUE(stdfs::exists(stored(old_id + ".manifest.json")));
  // The next backup's commit expires the old one (only the newest of old days is kept).
  ASSERT_EQ(upload("app-20200102-030000.dump", "newer").result_int(), 201);
  EXPECT_EQ(list().find(old_id), std::string::npos);
  EXPECT_FALSE(stdfs::exists(stored(old_id + ".manifest.json")));
  EXPECT_EQ(get_manifest(old_id).result_int(), 404);
  // A manifest never counts as a kept backup: the newest backup is still there.
  EXPECT_NE(list().find("app-20200102-030000.dump"), std::string::npos);
}

}  // namespace
}  // namespace pgship::test

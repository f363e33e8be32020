// tus 1.0.0 resumable uploads against a real pgship-receiver process: creation, chunked
// PATCHes with per-chunk checksums, HEAD, termination, expiry, and resumption after a cut
// connection and after kill -9 of the receiver.

#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "http_client.hpp"
#include "receiver_fixture.hpp"
#include "small_tmpfs.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

const std::string token = "tus-token-91c2";

class ReceiverTus : public receiver_fixture {
 protected:
  ReceiverTus() : receiver_fixture(token) {}

  std::map<std::string, std::string> headers(std::map<std::string, std::string> more = {}) {
    more.try_emplace("Authorization", "Bearer " + token);
    more.try_emplace("Tus-Resumable", "1.0.0");
    return more;
  }

  // POST /api/backup/uploads; returns the upload's path ("" on failure).
  std::string create(const std::string& name, const std::string& content,
                     std::optional<std::string> sha_hex = std::nullopt) {
    const auto sha = sha_hex.value_or(to_hex(sha256_of(content)));
    auto res =
        http_send(receiver_->port(),
                  {.method = verb::post,
                   .target = "/api/backup/uploads",
                   .headers = headers({{"Upload-Length", std::to_string(content.size())},
                                       {"Upload-Metadata", "filename " + base64_encode(name) +
                                                               ",sha256 " + base64_encode(sha)}})});
    EXPECT_EQ(res.result_int(), 201) << res.body();
    EXPECT_EQ(res["Tus-Resumable"], "1.0.0");
    EXPECT_EQ(res["Upload-Offset"], "0");
    EXPECT_FALSE(res["Upload-Expires"].empty());
    return std::string(res["Location"]);
  }

  // POST with Upload-Defer-Length: 1 and only a file name.
  http_response create_deferred(const std::string& name) {
    return http_send(
        receiver_->port(),
        {.method = verb::post,
         .target = "/api/backup/uploads",
         .headers = headers({{"Upload-Defer-Length", "1"},
                             {"Upload-Metadata", "filename " + base64_encode(name)}})});
  }

  http_response patch(const std::string& location, std::uint64_t offset, std::string_view chunk,
                      bool with_checksum = true,
                      std::optional<std::string> checksum = std::nullopt) {
    auto h = headers({{"Upload-Offset", std::to_string(offset)},
                      {"Content-Type", "application/offset+octet-stream"}});
    if (with_checksum)
      h["Upload-Checksum"] = checksum.value_or("sha256 " + to_base64(sha256_of(chunk)));
    return http_send(
        receiver_->port(),
        {.method = verb::patch, .target = location, .headers = h, .body = std::string(chunk)});
  }

  std::int64_t head_offset(const std::string& location) {
    auto res = http_send(receiver_->port(),
                         {.method = verb::head, .target = location, .headers = headers()});
    if (res.result_int() != 200) return -static_cast<std::int64_t>(res.result_int());
    return std::stoll(std::string(res["Upload-Offset"]));
  }

  stdfs::path stored(const std::string& name) {
    return receiver_->storage_dir() / "default" / name.substr(0, name.find('-')) / name;
  }
  // Nothing of any upload is left in .incoming/ but the state of finished ones, which HEAD
  // answers from until it expires.
  bool no_upload_data_left() {
    for (const auto& e : stdfs::directory_iterator(receiver_->storage_dir() / ".incoming")) {
      if (e.path().extension() != ".tus") return false;
      if (read_file(e.path()).find("\"completed\":true") == std::string::npos) return false;
    }
    return true;
  }
};

TEST_F(ReceiverTus, OptionsAdvertisesVersionAndExtensions) {
  auto& r = start();
  auto res = http_send(r.port(), {.method = verb::options, .target = "/api/backup/uploads"});
  EXPECT_EQ(res.result_int(), 204);
  EXPECT_EQ(res["Tus-Version"], "1.0.0");
  EXPECT_EQ(res["Tus-Extension"], "creation,creation-defer-length,checksum,termination,expiration");
  EXPECT_EQ(res["Tus-Checksum-Algorithm"], "sha256");
}

TEST_F(ReceiverTus, ChunkedUploadWithHeadCommitsTheBackup) {
  start();
  const auto content = random_bytes(3 * 1024 * 1024 + 123, 7);
  const std::string name = "app-20260301-020000.dump";
  const auto location = create(name, content);
  ASSERT_TRUE(location.starts_with("/api/backup/uploads/")) << location;

  const std::size_t chunk = 1024 * 1024;
  for (std::size_t off = 0; off < content.size(); off += chunk) {
    ASSERT_EQ(head_offset(location), static_cast<std::int64_t>(off));
    auto res = patch(location, off, std::string_view(content).substr(off, chunk));
    ASSERT_EQ(res.result_int(), 204) << res.body();
    EXPECT_EQ(res["Upload-Offset"], std::to_string(std::min(off + chunk, content.size())));
  }
  EXPECT_EQ(read_file(stored(name)), content);
  EXPECT_TRUE(no_upload_data_left());
  EXPECT_EQ(head_offset(location), static_cast<std::int64_t>(content.size()))
      << "a finished upload answers its full offset until it expires";
  // A client that missed the final answer asks again with zero bytes: confirmed.
  auto confirm = patch(location, content.size(), "");
  EXPECT_EQ(confirm.result_int(), 204) << confirm.body();
  EXPECT_EQ(confirm["Upload-Offset"], std::to_string(content.size()));
  EXPECT_EQ(patch(location, 0, "more").result_int(), 409);

  // Creating the same backup again is answered from storage: nothing to upload.
  auto again = http_send(
      receiver_->port(),
      {.method = verb::post,
       .target = "/api/backup/uploads",
       .headers = headers({{"Upload-Length", std::to_string(content.size())},
                           {"Upload-Metadata", "filename " + base64_encode(name) + ",sha256 " +
                                                   base64_encode(to_hex(sha256_of(content)))}})});
  EXPECT_EQ(again.result_int(), 200) << again.body();
}

TEST_F(ReceiverTus, ProtocolErrors) {
  auto& r = start();
  const auto content = random_bytes(1000, 1);
  const auto location = create("app-20260301-020000.dump", content);

  auto no_version = http_send(r.port(), {.method = verb::head,
                                         .target = location,
                                         .headers = {{"Authorization", "Bearer " + token}}});
  EXPECT_EQ(no_version.result_int(), 412);
  EXPECT_EQ(patch(location, 5, "abc").result_int(), 409) << "offset must match";
  auto bad_type = http_send(
      r.port(), {.method = verb::patch,
                 .target = location,
                 .headers = headers({{"Upload-Offset", "0"}, {"Content-Type", "text/plain"}}),
                 .body = "abc"});
  EXPECT_EQ(bad_type.result_int(), 415);
  EXPECT_EQ(patch(location, 0, content + "extra").result_int(), 413) << "beyond Upload-Length";
  EXPECT_EQ(head_offset(location), 0);
  auto no_token = http_send(
      r.port(),
      {.method = verb::head, .target = location, .headers = {{"Tus-Resumable", "1.0.0"}}});
  EXPECT_EQ(no_token.result_int(), 401);
  auto missing_sha = http_send(
      r.port(), {.method = verb::post,
                 .target = "/api/backup/uploads",
                 .headers = headers({{"Upload-Length", "10"},
                                     {"Upload-Metadata",
                                      "filename " + base64_encode("app-20260301-030000.dump")}})});
  EXPECT_EQ(missing_sha.result_int(), 400);
  auto bad_name = http_send(
      r.port(),
      {.method = verb::post,
       .target = "/api/backup/uploads",
       .headers = headers({{"Upload-Length", "10"},
                           {"Upload-Metadata", "filename " + base64_encode("../../x") + ",sha256 " +
                                                   base64_encode(std::string(64, 'a'))}})});
  EXPECT_EQ(bad_name.result_int(), 400);
  EXPECT_EQ(head_offset("/api/backup/uploads/" + std::string(32, '0')), -404);
  EXPECT_EQ(head_offset("/api/backup/uploads/..%2F..%2Fx"), -404);
}

TEST_F(ReceiverTus, ChunkChecksumMismatchIs460AndDiscardsTheChunk) {
  start();
  const auto content = random_bytes(2000, 2);
  const auto location = create("app-20260301-020000.dump", content);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 1000)).result_int(), 204);
  auto bad = patch(location, 1000, std::string_view(content).substr(1000), true,
                   "sha256 " + to_base64(sha256_of("something else")));
  EXPECT_EQ(bad.result_int(), 460) << bad.body();
  EXPECT_EQ(head_offset(location), 1000);
  // The whole-file hash was rolled back too: the right bytes now complete the upload.
  auto good = patch(location, 1000, std::string_view(content).substr(1000));
  EXPECT_EQ(good.result_int(), 204) << good.body();
  EXPECT_EQ(read_file(stored("app-20260301-020000.dump")), content);
}

TEST_F(ReceiverTus, WholeFileMismatchIs422AndCommitsNothing) {
  start();
  const auto content = random_bytes(5000, 3);
  const auto location = create("app-20260301-020000.dump", content, std::string(64, 'b'));
  auto res = patch(location, 0, content);
  EXPECT_EQ(res.result_int(), 422) << res.body();
  EXPECT_FALSE(stdfs::exists(stored("app-20260301-020000.dump")));
  EXPECT_TRUE(no_upload_data_left());
}

TEST_F(ReceiverTus, ADeferredLengthUploadCommitsOnlyWithTheLengthAndTheRightSha256) {
  start();
  const auto content = random_bytes(2 * 1024 * 1024 + 77, 21);
  const std::string name = "app-20260301-030000.dump.zst";
  auto created = create_deferred(name);
  ASSERT_EQ(created.result_int(), 201) << created.body();
  const std::string location(created["Location"]);
  const std::size_t half = content.size() / 2;
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, half)).result_int(), 204);
  auto head = http_send(receiver_->port(),
                        {.method = verb::head, .target = location, .headers = headers()});
  EXPECT_EQ(head["Upload-Defer-Length"], "1");
  EXPECT_EQ(head["Upload-Offset"], std::to_string(half));
  EXPECT_EQ(head.count("Upload-Length"), 0u);
  EXPECT_FALSE(stdfs::exists(stored(name))) << "committed without a length";

  const auto rest = std::string_view(content).substr(half);
  auto final_patch = [&](std::map<std::string, std::string> extra) {
    auto h = headers({{"Upload-Offset", std::to_string(half)},
                      {"Content-Type", "application/offset+octet-stream"},
                      {"Upload-Length", std::to_string(content.size())}});
    for (auto& [k, v] : extra)
      h[k] = v;
    return http_send(
        receiver_->port(),
        {.method = verb::patch, .target = location, .headers = h, .body = std::string(rest)});
  };
  auto no_hash = final_patch({});
  EXPECT_EQ(no_hash.result_int(), 400) << no_hash.body();
  EXPECT_NE(no_hash.body().find("X-Content-SHA256"), std::string::npos) << no_hash.body();
  EXPECT_EQ(head_offset(location), static_cast<std::int64_t>(half)) << "a refused PATCH took bytes";

  auto done = final_patch({{"X-Content-SHA256", to_hex(sha256_of(content))}});
  EXPECT_EQ(done.result_int(), 204) << done.body();
  EXPECT_EQ(read_file(stored(name)), content);
  EXPECT_TRUE(no_upload_data_left());
}

TEST_F(ReceiverTus, ADeferredUploadWithTheWrongSha256Is422AndCommitsNothing) {
  start();
  const auto content = random_bytes(300000, 22);
  const std::string name = "app-20260301-040000.dump";
  auto created = create_deferred(name);
  ASSERT_EQ(created.result_int(), 201) << created.body();
  auto res = http_send(receiver_->port(),
                       {.method = verb::patch,
                        .target = std::string(created["Location"]),
                        .headers = headers({{"Upload-Offset", "0"},
                                            {"Content-Type", "application/offset+octet-stream"},
                                            {"Upload-Length", std::to_string(content.size())},
                                            {"X-Content-SHA256", std::string(64, 'c')}}),
                        .body = content});
  EXPECT_EQ(res.result_int(), 422) << res.body();
  EXPECT_FALSE(stdfs::exists(stored(name)));
  EXPECT_TRUE(no_upload_data_left());
  // Neither a length nor a deferral is a bad request; so are both.
  auto neither =
      http_send(receiver_->port(),
                {.method = verb::post,
                 .target = "/api/backup/uploads",
                 .headers = headers({{"Upload-Metadata", "filename " + base64_encode(name)}})});
  EXPECT_EQ(neither.result_int(), 400);
  auto both =
      http_send(receiver_->port(),
                {.method = verb::post,
                 .target = "/api/backup/uploads",
                 .headers = headers({{"Upload-Defer-Length", "1"},
                                     {"Upload-Length", "10"},
                                     {"Upload-Metadata", "filename " + base64_encode(name)}})});
  EXPECT_EQ(both.result_int(), 400);
}

TEST_F(ReceiverTus, TerminationRemovesTheUpload) {
  auto& r = start();
  const auto content = random_bytes(5000, 4);
  const auto location = create("app-20260301-020000.dump", content);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 100)).result_int(), 204);
  auto del =
      http_send(r.port(), {.method = verb::delete_, .target = location, .headers = headers()});
  EXPECT_EQ(del.result_int(), 204);
  EXPECT_EQ(head_offset(location), -404);
  EXPECT_TRUE(no_upload_data_left());
}

TEST_F(ReceiverTus, AnotherClientCannotSeeOrTouchTheUpload) {
  write_file(dir_ / "tokens", "other:upload,read:other-token\ndefault:upload,read:" + token + "\n");
  auto& r = start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}, {"BACKUP_API_TOKEN", ""}});
  const auto content = random_bytes(100, 5);
  const auto location = create("app-20260301-020000.dump", content);
  auto other = headers({{"Authorization", "Bearer other-token"}});
  other["Authorization"] = "Bearer other-token";
  EXPECT_EQ(http_send(r.port(), {.method = verb::head, .target = location, .headers = other})
                .result_int(),
            404);
  EXPECT_EQ(http_send(r.port(), {.method = verb::delete_, .target = location, .headers = other})
                .result_int(),
            404);
  EXPECT_EQ(head_offset(location), 0);
}

TEST_F(ReceiverTus, ResumesAfterTheConnectionIsCutMidPatch) {
  auto& r = start();
  const auto content = random_bytes(1024 * 1024, 6);
  const auto location = create("app-20260301-020000.dump", content);
  {
    // Without a chunk checksum the bytes that arrived are kept.
    http_connection c(r.port());
    c.write_raw("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                std::to_string(content.size()) + "\r\n\r\n" + content.substr(0, 300000));
    std::this_thread::sleep_for(200ms);
  }
  std::int64_t offset = -1;
  for (int i = 0; i < 50 && offset != 300000; ++i) {
    std::this_thread::sleep_for(20ms);
    offset = head_offset(location);
  }
  ASSERT_EQ(offset, 300000);
  {
    // With a chunk checksum an interrupted chunk is all or nothing.
    http_connection c(r.port());
    c.write_raw("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 300000\r\nUpload-Checksum: sha256 " +
                to_base64(sha256_of(std::string_view(content).substr(300000))) +
                "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
                std::to_string(content.size() - 300000) + "\r\n\r\n" +
                content.substr(300000, 1000));
  }
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(head_offset(location), 300000);
  auto rest = patch(location, 300000, std::string_view(content).substr(300000));
  EXPECT_EQ(rest.result_int(), 204) << rest.body();
  EXPECT_EQ(read_file(stored("app-20260301-020000.dump")), content);
}

TEST_F(ReceiverTus, ResumesAfterKill9OfTheReceiver) {
  auto& r = start();
  const auto content = random_bytes(4 * 1024 * 1024, 8);
  const auto location = create("app-20260301-020000.dump", content);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 1024 * 1024)).result_int(), 204);

  // A PATCH in flight when the receiver dies.
  http_connection c(r.port());
  c.write_raw("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
              "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 1048576\r\n"
              "Content-Type: application/offset+octet-stream\r\nContent-Length: 3145728\r\n\r\n" +
              content.substr(1024 * 1024, 700000));
  // The receiver writes in pieces of up to 256 KiB: wait until part of this PATCH is on disk.
  std::int64_t before = 0;
  for (int i = 0; i < 100 && before <= 1048576; ++i) {
    std::this_thread::sleep_for(20ms);
    before = head_offset(location);
  }
  ASSERT_GT(before, 1048576);
  ASSERT_LE(before, 1048576 + 700000);
  EXPECT_EQ(r.stop(SIGKILL), 128 + SIGKILL);
  r.restart();

  const auto offset = head_offset(location);
  ASSERT_EQ(offset, before) << "the durable offset survives the crash";
  auto rest = patch(location, static_cast<std::uint64_t>(offset),
                    std::string_view(content).substr(static_cast<std::size_t>(offset)));
  EXPECT_EQ(rest.result_int(), 204) << rest.body();
  EXPECT_EQ(read_file(stored("app-20260301-020000.dump")), content);
  EXPECT_TRUE(no_upload_data_left());
}

TEST_F(ReceiverTus, ChecksummedPatchCutByKill9LeavesNoUnverifiedBytes) {
  auto& r = start();
  const auto content = random_bytes(4 * 1024 * 1024, 12);
  const auto location = create("app-20260301-020000.dump", content);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 1024 * 1024)).result_int(), 204);

  // A PATCH with a chunk checksum, part of it on disk, when the receiver dies: those bytes
  // were never checked against the checksum, so after the restart they are not part of the
  // upload (as if the connection had been cut).
  const std::string_view rest = std::string_view(content).substr(1024 * 1024);
  http_connection c(r.port());
  c.write_raw("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
              "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 1048576\r\nUpload-Checksum: sha256 " +
              to_base64(sha256_of(rest)) +
              "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
              std::to_string(rest.size()) + "\r\n\r\n" + std::string(rest.substr(0, 700000)));
  std::int64_t during = 0;
  for (int i = 0; i < 100 && during <= 1048576; ++i) {
    std::this_thread::sleep_for(20ms);
    during = head_offset(location);
  }
  ASSERT_GT(during, 1048576) << "part of the PATCH reached the disk";
  EXPECT_EQ(r.stop(SIGKILL), 128 + SIGKILL);
  r.restart();

  EXPECT_EQ(head_offset(location), 1048576);
  EXPECT_NE(r.log().find("before its checksum was checked discarded"), std::string::npos);
  auto done = patch(location, 1048576, rest);
  EXPECT_EQ(done.result_int(), 204) << done.body();
  EXPECT_EQ(read_file(stored("app-20260301-020000.dump")), content);
  EXPECT_TRUE(no_upload_data_left());
}

TEST_F(ReceiverTus, CommitInterruptedByACrashIsSettledAtStartUp) {
  auto& r = start({{"QUOTA_BYTES", "1500K"}});
  const auto content = random_bytes(1000 * 1024, 21);
  const std::string name = "app-20260302-020000.dump";
  const auto location = create(name, content);
  const std::string uid = location.substr(location.rfind('/') + 1);
  const auto state = r.storage_dir() / ".incoming" / (uid + ".tus");
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 512 * 1024)).result_int(), 204);
  const std::string unfinished_state = read_file(state);
  ASSERT_EQ(patch(location, 512 * 1024, std::string_view(content).substr(512 * 1024)).result_int(),
            204);

  // What kill -9 between the commit's rename and the state update leaves on disk: the
  // backup stored, its data gone, the state of an unfinished upload.
  EXPECT_EQ(r.stop(SIGKILL), 128 + SIGKILL);
  {
    std::ofstream out(state, std::ios::trunc);
    out << unfinished_state;
  }
  ASSERT_FALSE(stdfs::exists(r.storage_dir() / ".incoming" / (uid + ".data")));
  r.restart();

  EXPECT_EQ(head_offset(location), static_cast<std::int64_t>(content.size()));
  auto confirm = patch(location, content.size(), "");
  EXPECT_EQ(confirm.result_int(), 204) << confirm.body();
  EXPECT_EQ(confirm["Upload-Offset"], std::to_string(content.size()));
  auto again = patch(location, 0, std::string_view(content).substr(0, 1024));
  EXPECT_EQ(again.result_int(), 409) << again.body();
  EXPECT_EQ(again["Upload-Offset"], std::to_string(content.size()));
  EXPECT_EQ(read_file(stored(name)), content);
  EXPECT_NE(r.log().find("committed before a crash"), std::string::npos);
  EXPECT_TRUE(no_upload_data_left());

  // Its quota hold is gone: 1000K stored + 400K new fit in 1500K (with the stale hold of
  // 1000K they would not).
  auto fits = http_send(r.port(), {.method = verb::post,
                                   .target = "/api/backup/upload",
                                   .headers = {{"Authorization", "Bearer " + token},
                                               {"X-Backup-Name", "app-20260303-020000.dump"}},
                                   .body = random_bytes(400 * 1024, 22)});
  EXPECT_EQ(fits.result_int(), 201) << fits.body();
  EXPECT_EQ(r.log().find("status=500"), std::string::npos) << r.log();
}

TEST_F(ReceiverTus, IncompleteUploadsExpire) {
  auto& r = start({{"UPLOAD_EXPIRY", "1s"}});
  const auto content = random_bytes(1000, 9);
  const auto location = create("app-20260301-020000.dump", content);
  ASSERT_EQ(patch(location, 0, std::string_view(content).substr(0, 10)).result_int(), 204);
  // A finished upload's state expires too.
  const auto finished = create("app-20260302-020000.dump", content);
  ASSERT_EQ(patch(finished, 0, content).result_int(), 204);
  std::int64_t offset = 0;
  for (int i = 0; i < 100 && offset != -404; ++i) {
    std::this_thread::sleep_for(100ms);
    offset = head_offset(location);
  }
  EXPECT_EQ(offset, -404);
  for (int i = 0; i < 100 && head_offset(finished) != -404; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(head_offset(finished), -404);
  EXPECT_TRUE(stdfs::is_empty(r.storage_dir() / ".incoming"));
  EXPECT_NE(r.log().find("expired resumable upload"), std::string::npos);
}

TEST_F(ReceiverTus, DiskFullMidPatchIs507AndTheUploadResumesIntact) {
  small_tmpfs disk(dir_.path() / "small", "16m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  auto& r = start(
      {{"STORAGE_DIR", (dir_.path() / "small" / "storage").string()}, {"MIN_FREE_BYTES", "1"}});
  const auto content = random_bytes(8 * 1024 * 1024, 10);
  const std::string name = "app-20260301-020000.dump";
  const auto location = create(name, content);
  {
    // The PATCH passes the free-space check with room to spare; the disk fills up while its
    // body streams in, about 3 MiB into it (the tmpfs writes part of the buffer that fails).
    http_connection c(r.port());
    c.write_raw("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nExpect: 100-continue\r\n"
                "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                std::to_string(content.size()) + "\r\n\r\n");
    ASSERT_NE(c.read_until("\r\n\r\n").find(" 100 "), std::string::npos);
    disk.fill_leaving("filler", 3 * 1024 * 1024 + 100'000);
    const auto answer = c.write_then_read_until_close(content);
    EXPECT_NE(answer.find(" 507 "), std::string::npos) << answer;
  }
  EXPECT_NE(r.log().find("No space left on device"), std::string::npos);
  stdfs::remove(disk.path() / "filler");
  const auto offset = head_offset(location);
  ASSERT_GT(offset, 0);
  ASSERT_LT(offset, static_cast<std::int64_t>(content.size()));
  auto rest = patch(location, static_cast<std::uint64_t>(offset),
                    std::string_view(content).substr(static_cast<std::size_t>(offset)), false);
  EXPECT_EQ(rest.result_int(), 204) << rest.body();
  EXPECT_EQ(read_file(stored(name)), content);
}

}  // namespace
}  // namespace pgship::test

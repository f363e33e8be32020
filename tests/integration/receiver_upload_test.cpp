// pgship-receiver as a real process on loopback, driven by curl and raw sockets: single-request
// uploads (raw and multipart), the read side, auth, hostile input, limits, concurrency,
// retention and metrics. What a test checks is what a user sees: status codes, files on disk,
// downloaded bytes, metric values.

#include <fstream>
#include <future>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "curl.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"
#include "small_tmpfs.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string token = "upload-token-7f3a";
const std::string auth = "Authorization: Bearer " + token;

// A file of `size` pseudo-random bytes (incompressible, like a compressed dump).
std::string make_file(const stdfs::path& path, std::uint64_t size, std::uint32_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary);
  std::vector<std::uint64_t> block(1 << 16);
  sha256 h;
  std::uint64_t left = size;
  while (left > 0) {
    for (auto& w : block)
      w = rng();
    const auto n = std::min<std::uint64_t>(left, block.size() * 8);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    h.update(block.data(), n);
    left -= n;
  }
  return to_hex(h.finish());
}

std::string file_sha256(const stdfs::path& path) {
  std::error_code ec;
  auto d = sha256_of_file(path, ec);
  return d ? to_hex(*d) : "error: " + ec.message();
}

// Regular files under `dir` (recursively), relative paths.
std::vector<std::string> files_under(const stdfs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : stdfs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out.push_back(stdfs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> committed(const receiver_process& r) {
  auto all = files_under(r.storage_dir());
  // .incoming/, .quarantine/ and the scrub's state are the receiver's own, not backups.
  std::erase_if(all, [](const std::string& f) { return f.starts_with("."); });
  return all;
}

std::vector<std::string> incoming(const receiver_process& r) {
  return files_under(r.storage_dir() / ".incoming");
}

class ReceiverUpload : public receiver_fixture {
 protected:
  ReceiverUpload() : receiver_fixture(token) {}
};

TEST_F(ReceiverUpload, RawAndMultipartUploadsOfHundredsOfMegabytesRoundTrip) {
  auto& r = start();
  const auto file = dir_ / "app-20261120-030000.dump";
  const auto sha = make_file(file, 300ull * 1024 * 1024);

  // The FastAPI tool's curl line: multipart with a file part named after the backup.
  auto multipart = curl({"-H", auth, "-F", "file=@" + file.string(), r.url("/api/backup/upload")});
  ASSERT_EQ(multipart.status, 201) << multipart.body << multipart.error;
  EXPECT_NE(multipart.body.find("\"sha256\":\"" + sha + "\""), std::string::npos) << multipart.body;

  // Raw body with the name and checksum in headers.
  auto raw = curl({"-H", auth, "-H", "X-Backup-Name: app-20261121-030000.dump", "-H",
                   "X-Content-SHA256: " + sha, "--data-binary", "@" + file.string(),
                   r.url("/api/backup/upload")});
  ASSERT_EQ(raw.status, 201) << raw.body << raw.error;

  for (const char* id : {"app-20261120-030000.dump", "app-20261121-030000.dump"}) {
    const auto out = dir_ / ("down-" + std::string(id));
    auto down =
        curl({"-H", auth, "-o", out.string(), r.url("/api/backup/download/" + std::string(id))});
    ASSERT_EQ(down.status, 200) << down.error;
    EXPECT_EQ(file_sha256(out), sha) << id;
    stdfs::remove(out);
  }
  auto list = curl({"-H", auth, r.url("/api/backup/list")});
  ASSERT_EQ(list.status, 200);
  const auto newer = list.body.find("app-20261121-030000.dump");
  const auto older = list.body.find("app-20261120-030000.dump");
  ASSERT_NE(newer, std::string::npos);
  ASSERT_NE(older, std::string::npos);
  EXPECT_LT(newer, older) << "newest first";
  EXPECT_EQ(curl({"-H", auth, r.url("/api/backup/list?database=other")}).body, "[]");

  // The stored checksum file is what sha256sum -c accepts.
  auto check = run_process({"sha256sum", "-c", "app-20261120-030000.dump.sha256"},
                           {.cwd = r.storage_dir() / "default" / "app"});
  EXPECT_TRUE(check.ok()) << check.describe() << check.out;
  auto line = curl({"-H", auth, r.url("/api/backup/download/app-20261120-030000.dump.sha256")});
  EXPECT_EQ(line.body, sha + "  app-20261120-030000.dump\n");
  EXPECT_TRUE(incoming(r).empty());
}

TEST_F(ReceiverUpload, ChunkedRawUploadAndRetrySafety) {
  auto& r = start();
  const auto file = dir_ / "x.bin";
  const auto sha = make_file(file, 3 * 1024 * 1024 + 17);
  const std::vector<std::string> upload = {"-H",
                                           auth,
                                           "-H",
                                           "Transfer-Encoding: chunked",
                                           "-H",
                                           "X-Backup-Name: db-20260101-000000.dump",
                                           "--data-binary",
                                           "@" + file.string(),
                                           r.url("/api/backup/upload")};
  EXPECT_EQ(curl(upload).status, 201);
  EXPECT_EQ(curl(upload).status, 200) << "the same backup again is a no-op";

  const auto other = dir_ / "y.bin";
  make_file(other, 1000, 2);
  auto conflict = curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                        "@" + other.string(), r.url("/api/backup/upload")});
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(file_sha256(r.storage_dir() / "default" / "db" / "db-20260101-000000.dump"), sha);
  EXPECT_TRUE(incoming(r).empty());
}

TEST_F(ReceiverUpload, HashMismatchIs422AndKeepsNothing) {
  auto& r = start();
  const auto file = dir_ / "x.bin";
  make_file(file, 2 * 1024 * 1024);
  const std::string wrong(64, 'a');
  auto raw = curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "-H",
                   "X-Content-SHA256: " + wrong, "--data-binary", "@" + file.string(),
                   r.url("/api/backup/upload")});
  EXPECT_EQ(raw.status, 422) << raw.body;
  auto form = curl({"-H", auth, "-F", "sha256=" + wrong, "-F",
                    "file=@" + file.string() + ";filename=db-20260102-000000.dump",
                    r.url("/api/backup/upload")});
  EXPECT_EQ(form.status, 422) << form.body;
  EXPECT_TRUE(committed(r).empty());
  EXPECT_TRUE(incoming(r).empty());
  auto metrics = curl({r.url("/metrics")}).body;
  EXPECT_NE(
      metrics.find("pgship_receiver_uploads_total{client=\"default\",result=\"hash_mismatch\"} 2"),
      std::string::npos)
      << metrics;
}

TEST_F(ReceiverUpload, TokensAndScopes) {
  write_file(dir_ / "tokens",
             "# client:scopes:token\n"
             "alpha:upload,read:alpha-token\n"
             "beta:read:sha256:" +
                 to_hex(sha256_of("beta-token")) +
                 "\n"
                 "gamma:upload,read,delete:gamma-token\n");
  auto& r = start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}});
  const auto file = dir_ / "x.bin";
  make_file(file, 4096);
  const auto upload_as = [&](const std::string& tok) {
    return curl({"-H", "Authorization: Bearer " + tok, "-H",
                 "X-Backup-Name: db-20260101-000000.dump", "--data-binary", "@" + file.string(),
                 r.url("/api/backup/upload")});
  };
  EXPECT_EQ(curl({"--data-binary", "@" + file.string(), "-H",
                  "X-Backup-Name: db-20260101-000000.dump", r.url("/api/backup/upload")})
                .status,
            401);
  EXPECT_EQ(upload_as("nope").status, 401);
  EXPECT_EQ(upload_as("beta-token").status, 403) << "read-only token";
  EXPECT_EQ(upload_as("alpha-token").status, 201);
  EXPECT_EQ(upload_as(token).status, 201) << "BACKUP_API_TOKEN is client default";

  // Each client sees only its own backups; another client's id is not found.
  EXPECT_EQ(curl({"-H", "Authorization: Bearer beta-token", r.url("/api/backup/list")}).body, "[]");
  EXPECT_EQ(curl({"-H", "Authorization: Bearer beta-token",
                  r.url("/api/backup/download/db-20260101-000000.dump")})
                .status,
            404);
  EXPECT_EQ(curl({"-H", "Authorization: Bearer alpha-token", "-X", "DELETE",
                  r.url("/api/backup/db-20260101-000000.dump")})
                .status,
            403)
      << "alpha has no delete scope";
  EXPECT_EQ(curl({"-H", "Authorization: Bearer gamma-token", "-X", "DELETE",
                  r.url("/api/backup/db-20260101-000000.dump")})
                .status,
            404)
      << "gamma cannot delete alpha's backup";
  EXPECT_TRUE(stdfs::exists(r.storage_dir() / "alpha" / "db" / "db-20260101-000000.dump"));

  const auto metrics = curl({r.url("/metrics")}).body;
  EXPECT_NE(metrics.find("pgship_receiver_auth_failures_total 4"), std::string::npos) << metrics;
  const auto log = r.log();
  EXPECT_NE(log.find("auth failed from 127.0.0.1"), std::string::npos);
  for (const char* secret : {"alpha-token", "beta-token", "gamma-token", "nope", token.c_str()}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "token in the log: " << secret;
  }
}

TEST_F(ReceiverUpload, DeleteAndAppendOnly) {
  auto& r = start();
  const auto file = dir_ / "x.bin";
  make_file(file, 4096);
  ASSERT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                  "@" + file.string(), r.url("/api/backup/upload")})
                .status,
            201);
  EXPECT_EQ(curl({"-H", auth, "-X", "DELETE", r.url("/api/backup/db-20260101-000000.dump")}).status,
            204);
  EXPECT_TRUE(committed(r).empty());
  EXPECT_EQ(curl({"-H", auth, "-X", "DELETE", r.url("/api/backup/db-20260101-000000.dump")}).status,
            404);

  receiver_.reset();
  auto& ro = start({{"APPEND_ONLY", "true"}});
  ASSERT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                  "@" + file.string(), ro.url("/api/backup/upload")})
                .status,
            201);
  EXPECT_EQ(
      curl({"-H", auth, "-X", "DELETE", ro.url("/api/backup/db-20260101-000000.dump")}).status,
      403);
  const auto other = dir_ / "y.bin";
  make_file(other, 4096, 9);
  EXPECT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                  "@" + other.string(), ro.url("/api/backup/upload")})
                .status,
            403)
      << "no overwrite in APPEND_ONLY";
  EXPECT_EQ(committed(ro).size(), 3u);
}

// Stores 10000 random bytes as db-20260101-000000.dump; their sha256, and the bytes in
// `content` (empty when the upload failed).
std::string upload_sample(receiver_process& r, const stdfs::path& dir, std::string& content) {
  const auto file = dir / "x.bin";
  const auto sha = make_file(file, 10000);
  const auto stored = curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump",
                            "--data-binary", "@" + file.string(), r.url("/api/backup/upload")});
  EXPECT_EQ(stored.status, 201) << stored.body;
  if (stored.status == 201) content = read_file(file);
  return sha;
}

TEST_F(ReceiverUpload, RangeRequestsAndEtag) {
  auto& r = start();
  std::string content;
  const auto sha = upload_sample(r, dir_.path(), content);
  ASSERT_FALSE(content.empty());
  http_request req{.target = "/api/backup/download/db-20260101-000000.dump",
                   .headers = {{"Authorization", "Bearer " + token}, {"Range", "bytes=100-199"}}};
  auto part = http_send(r.port(), req);
  EXPECT_EQ(part.result_int(), 206);
  EXPECT_EQ(part.body(), content.substr(100, 100));
  EXPECT_EQ(part["Content-Range"], "bytes 100-199/10000");
  EXPECT_EQ(part["ETag"], "\"" + sha + "\"");
  req.headers["Range"] = "bytes=-10";
  EXPECT_EQ(http_send(r.port(), req).body(), content.substr(9990));
  req.headers["Range"] = "bytes=9990-";
  EXPECT_EQ(http_send(r.port(), req).body(), content.substr(9990));
  req.headers["Range"] = "bytes=10000-";
  auto bad = http_send(r.port(), req);
  EXPECT_EQ(bad.result_int(), 416);
  EXPECT_EQ(bad["Content-Range"], "bytes */10000");
}

TEST_F(ReceiverUpload, ConditionalDownloadsFollowRfc9110) {
  auto& r = start();
  std::string content;
  const auto sha = upload_sample(r, dir_.path(), content);
  ASSERT_FALSE(content.empty());
  const std::string etag = "\"" + sha + "\"";
  const auto get = [&](std::map<std::string, std::string> more) {
    http_request req{.target = "/api/backup/download/db-20260101-000000.dump",
                     .headers = {{"Authorization", "Bearer " + token}}};
    for (auto& [k, v] : more)
      req.headers[k] = v;
    return http_send(r.port(), req);
  };
  // If-None-Match with the ETag (weakly compared, in a list, or *): 304, no body.
  for (const auto& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const auto res = get({{"If-None-Match", inm}});
    EXPECT_EQ(res.result_int(), 304) << inm;
    EXPECT_TRUE(res.body().empty());
    EXPECT_EQ(res["ETag"], etag);
  }
  EXPECT_EQ(get({{"If-None-Match", "\"other\""}}).body(), content);
  // If-Range: the range only when the tag matches strongly; otherwise the whole file.
  auto ranged = get({{"Range", "bytes=0-9"}, {"If-Range", etag}});
  EXPECT_EQ(ranged.result_int(), 206);
  EXPECT_EQ(ranged.body(), content.substr(0, 10));
  for (const auto& ir :
       {std::string("\"other\""), "W/" + etag, std::string("Tue, 01 Dec 2026 00:00:00 GMT")}) {
    const auto whole = get({{"Range", "bytes=0-9"}, {"If-Range", ir}});
    EXPECT_EQ(whole.result_int(), 200) << ir;
    EXPECT_EQ(whole.body(), content) << ir;
  }
  // If-Match: 412 unless it names the ETag.
  EXPECT_EQ(get({{"If-Match", "\"other\""}}).result_int(), 412);
  EXPECT_EQ(get({{"If-Match", etag}}).result_int(), 200);
  // After the hostile-looking ones, a plain download still works.
  EXPECT_EQ(get({}).body(), content);
}

TEST_F(ReceiverUpload, HostileNamesAndIdsNeverTouchTheFileSystemOutsideStorage) {
  auto& r = start();
  const auto file = dir_ / "x.bin";
  make_file(file, 1000);
  for (const std::string name :
       {"../x-20260101-000000.dump", "/etc/passwd", "..", "db-20260101-000000.dump/..",
        "a b-20260101-000000.dump", "db.dump", ".hidden-20260101-000000.dump"}) {
    auto raw = curl({"-H", auth, "-H", "X-Backup-Name: " + name, "--data-binary",
                     "@" + file.string(), r.url("/api/backup/upload")});
    EXPECT_EQ(raw.status, 400) << name << " " << raw.body;
    auto form = curl({"-H", auth, "-F", "file=@" + file.string() + ";filename=\"" + name + "\"",
                      r.url("/api/backup/upload")});
    EXPECT_EQ(form.status, 400) << name << " " << form.body;
  }
  for (const std::string id : {"..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2e%2e%2fsecret", "a%00b.dump",
                               "%2Fetc%2Fpasswd", "x%zz"}) {
    auto down = curl({"-H", auth, "--path-as-is", r.url("/api/backup/download/" + id)});
    EXPECT_EQ(down.status, 400) << id << " " << down.body;
    auto del = curl({"-H", auth, "--path-as-is", "-X", "DELETE", r.url("/api/backup/" + id)});
    EXPECT_EQ(del.status, 400) << id << " " << del.body;
  }
  auto traversal =
      curl({"-H", auth, "--path-as-is", r.url("/api/backup/download/../../etc/passwd")});
  EXPECT_NE(traversal.status, 200);
  EXPECT_TRUE(committed(r).empty());
  EXPECT_TRUE(incoming(r).empty());
  EXPECT_FALSE(stdfs::exists(r.storage_dir().parent_path() / "x-20260101-000000.dump"));
}

TEST_F(ReceiverUpload, LimitsAreEnforcedBeforeAnyByteIsStored) {
  auto& r = start({{"MAX_UPLOAD_BYTES", "1M"}, {"IDLE_TIMEOUT", "1s"}});
  const auto big = dir_ / "big.bin";
  make_file(big, 2 * 1024 * 1024);
  auto declared = curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                        "@" + big.string(), r.url("/api/backup/upload")});
  EXPECT_EQ(declared.status, 413) << declared.body;
  auto chunked = curl({"-H", auth, "-H", "Transfer-Encoding: chunked", "-H",
                       "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                       "@" + big.string(), r.url("/api/backup/upload")});
  EXPECT_EQ(chunked.status, 413) << chunked.body;

  // Oversized header.
  http_connection c(r.port());
  c.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\nX-Junk: " +
              std::string(64 * 1024, 'j') + "\r\n\r\n");
  EXPECT_TRUE(c.read_until_close().starts_with("HTTP/1.1 431"));

  // Malformed multipart.
  auto malformed =
      curl({"-H", auth, "-H", "Content-Type: multipart/form-data; boundary=XYZ", "--data-binary",
            "garbage without any boundary", r.url("/api/backup/upload")});
  EXPECT_EQ(malformed.status, 400) << malformed.body;

  // Body shorter than Content-Length, then the client goes away.
  {
    http_connection cut(r.port());
    cut.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\n" + auth +
                  "\r\nX-Backup-Name: db-20260102-000000.dump\r\nContent-Length: 100000\r\n\r\n" +
                  std::string(5000, 'x'));
  }
  // A stalled client is dropped after IDLE_TIMEOUT.
  http_connection slow(r.port());
  slow.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\n" + auth +
                 "\r\nX-Backup-Name: db-20260103-000000.dump\r\nContent-Length: 100000\r\n\r\nabc");
  EXPECT_TRUE(slow.closed_by_peer(5s));

  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(committed(r).empty());
  EXPECT_TRUE(incoming(r).empty()) << incoming(r).size();
}

TEST_F(ReceiverUpload, DiskFullWhileStreamingIs507AndLeavesNothing) {
  small_tmpfs disk(dir_.path() / "small", "16m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  auto& r = start({{"STORAGE_DIR", (disk.path() / "storage").string()}, {"MIN_FREE_BYTES", "1"}});
  std::string content(8 * 1024 * 1024, '\0');
  std::mt19937 rng(11);
  for (auto& c : content)
    c = static_cast<char>(rng());
  const std::string sha = to_hex(sha256_of(content));
  const std::string header =
      "POST /api/backup/upload HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " +
      token + "\r\nX-Backup-Name: app-20261121-030000.dump\r\nX-Content-SHA256: " + sha +
      "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(content.size()) + "\r\n\r\n";
  {
    // Room for the upload when it is checked; the disk fills up while the body streams in.
    http_connection c(r.port());
    c.write_raw(header);
    ASSERT_NE(c.read_until("\r\n\r\n").find(" 100 "), std::string::npos);
    disk.fill_leaving("filler", 3 * 1024 * 1024);
    const auto answer = c.write_then_read_until_close(content);
    EXPECT_NE(answer.find(" 507 "), std::string::npos) << answer;
  }
  EXPECT_NE(r.log().find("No space left on device"), std::string::npos);
  EXPECT_TRUE(committed(r).empty()) << committed(r).front();
  EXPECT_TRUE(incoming(r).empty()) << incoming(r).front();

  // Once there is room again the same upload goes through: nothing of the first one is in
  // the way.
  stdfs::remove(disk.path() / "filler");
  http_connection again(r.port());
  again.write_raw(header);
  ASSERT_NE(again.read_until("\r\n\r\n").find(" 100 "), std::string::npos);
  again.write_raw(content);
  const auto answer = again.read_until("\r\n\r\n");
  EXPECT_NE(answer.find(" 201 "), std::string::npos) << answer;
  EXPECT_EQ(file_sha256(r.storage_dir() / "default" / "app" / "app-20261121-030000.dump"), sha);
}

TEST_F(ReceiverUpload, QuotaCountsUploadsStillArriving) {
  auto& r = start({{"QUOTA_BYTES", "1000K"}});
  const std::string body(600 * 1024, 'a');
  const auto raw = [&](const std::string& name, std::size_t size) {
    return http_send(r.port(),
                     {.method = boost::beast::http::verb::post,
                      .target = "/api/backup/upload",
                      .headers = {{"Authorization", "Bearer " + token}, {"X-Backup-Name", name}},
                      .body = body.substr(0, size)});
  };
  const auto create_tus = [&](const std::string& name, std::size_t length) {
    return http_send(r.port(),
                     {.method = boost::beast::http::verb::post,
                      .target = "/api/backup/uploads",
                      .headers = {{"Authorization", "Bearer " + token},
                                  {"Tus-Resumable", "1.0.0"},
                                  {"Upload-Length", std::to_string(length)},
                                  {"Upload-Metadata",
                                   "filename " + base64_encode(name) + ",sha256 " +
                                       base64_encode(to_hex(sha256_of(body.substr(0, length))))}}});
  };

  // 600K on its way (past the checks, waiting for its body) and another 600K: together over.
  http_connection first(r.port());
  first.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\n" + auth +
                  "\r\nX-Backup-Name: db-20260101-000000.dump\r\nExpect: 100-continue\r\n"
                  "Content-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n");
  ASSERT_NE(first.read_until("\r\n\r\n").find(" 100 "), std::string::npos);
  auto second = raw("db-20260102-000000.dump", body.size());
  EXPECT_EQ(second.result_int(), 507) << second.body();
  EXPECT_NE(second.body().find("quota_exceeded"), std::string::npos);
  EXPECT_EQ(create_tus("tus-20260101-000000.dump", 600 * 1024).result_int(), 507);
  first.write_raw(body);
  EXPECT_NE(first.read_until("\r\n\r\n").find(" 201 "), std::string::npos);

  // An unfinished tus upload holds its whole length, also across a restart, until it ends.
  auto created = create_tus("tus-20260101-000000.dump", 300 * 1024);
  ASSERT_EQ(created.result_int(), 201) << created.body();
  EXPECT_EQ(raw("db-20260103-000000.dump", 200 * 1024).result_int(), 507);
  r.restart();
  EXPECT_EQ(raw("db-20260103-000000.dump", 200 * 1024).result_int(), 507);
  auto terminated = http_send(
      r.port(), {.method = boost::beast::http::verb::delete_,
                 .target = std::string(created["Location"]),
                 .headers = {{"Authorization", "Bearer " + token}, {"Tus-Resumable", "1.0.0"}}});
  EXPECT_EQ(terminated.result_int(), 204) << terminated.body();
  EXPECT_EQ(raw("db-20260103-000000.dump", 200 * 1024).result_int(), 201);
  // Refused and finished uploads hold nothing: 600K + 200K stored, 200K left.
  EXPECT_EQ(raw("db-20260104-000000.dump", 200 * 1024).result_int(), 201);
  EXPECT_EQ(raw("db-20260105-000000.dump", 1).result_int(), 507);
  // At the quota, a retried creation for a backup already stored still learns it arrived.
  EXPECT_EQ(create_tus("db-20260104-000000.dump", 200 * 1024).result_int(), 200);
}

TEST_F(ReceiverUpload, QuotaAndConcurrencyCaps) {
  auto& r = start({{"QUOTA_BYTES", "10K"}, {"MAX_CONCURRENT_UPLOADS", "1"}});
  const auto file = dir_ / "x.bin";
  make_file(file, 8 * 1024);
  EXPECT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary",
                  "@" + file.string(), r.url("/api/backup/upload")})
                .status,
            201);
  auto over = curl({"-H", auth, "-H", "X-Backup-Name: db-20260102-000000.dump", "--data-binary",
                    "@" + file.string(), r.url("/api/backup/upload")});
  EXPECT_EQ(over.status, 507) << over.body;
  EXPECT_NE(over.body.find("quota_exceeded"), std::string::npos);

  // One upload in progress holds the only place: the next one is told to come back.
  http_connection busy(r.port());
  busy.write_raw("POST /api/backup/upload HTTP/1.1\r\nHost: x\r\n" + auth +
                 "\r\nX-Backup-Name: db-20260105-000000.dump\r\nContent-Length: 1000\r\n\r\nabc");
  std::this_thread::sleep_for(200ms);
  http_request second{.method = boost::beast::http::verb::post,
                      .target = "/api/backup/upload",
                      .headers = {{"Authorization", "Bearer " + token},
                                  {"X-Backup-Name", "db-20260106-000000.dump"}},
                      .body = "x"};
  auto refused = http_send(r.port(), second);
  EXPECT_EQ(refused.result_int(), 503) << refused.body();
  EXPECT_EQ(refused["Retry-After"], "5");
}

TEST_F(ReceiverUpload, ThirtyTwoConcurrentUploadsAllArriveIntact) {
  auto& r = start();
  std::vector<std::string> shas;
  for (int i = 0; i < 32; ++i) {
    shas.push_back(make_file(dir_ / ("f" + std::to_string(i)), 1024 * 1024 + i * 4099,
                             static_cast<std::uint32_t>(100 + i)));
  }
  std::vector<std::future<curl_result>> uploads;
  for (int i = 0; i < 32; ++i) {
    uploads.push_back(std::async(std::launch::async, [&, i] {
      const std::string name = "db" + std::to_string(i) + "-20260101-000000.dump";
      return curl({"-H", auth, "-F",
                   "file=@" + (dir_ / ("f" + std::to_string(i))).string() + ";filename=" + name,
                   r.url("/api/backup/upload")});
    }));
  }
  for (int i = 0; i < 32; ++i) {
    auto res = uploads[static_cast<std::size_t>(i)].get();
    EXPECT_EQ(res.status, 201) << i << res.body << res.error;
    const auto path = r.storage_dir() / "default" / ("db" + std::to_string(i)) /
                      ("db" + std::to_string(i) + "-20260101-000000.dump");
    EXPECT_EQ(file_sha256(path), shas[static_cast<std::size_t>(i)]) << i;
  }
  auto metrics = curl({r.url("/metrics")}).body;
  EXPECT_NE(metrics.find("pgship_receiver_backups{client=\"default\"} 32"), std::string::npos);
}

TEST_F(ReceiverUpload, RetentionKeepsNewestPerDayAndNeverTheLastOne) {
  auto& r = start({{"KEEP_DAYS", "2"}});
  const auto file = dir_ / "x.bin";
  make_file(file, 1000);
  const auto upload = [&](const std::string& name) {
    return curl({"-H", auth, "-H", "X-Backup-Name: " + name, "--data-binary", "@" + file.string(),
                 r.url("/api/backup/upload")})
        .status;
  };
  // Old backups: only the newest survives because it is the newest.
  EXPECT_EQ(upload("db-20200101-030000.dump"), 201);
  EXPECT_EQ(upload("db-20200102-030000.dump"), 201);
  auto list = curl({"-H", auth, r.url("/api/backup/list")}).body;
  EXPECT_EQ(list.find("db-20200101-030000.dump"), std::string::npos) << list;
  EXPECT_NE(list.find("db-20200102-030000.dump"), std::string::npos) << list;
}

TEST_F(ReceiverUpload, HealthMetricsAndGracefulStop) {
  auto& r = start();
  auto health = curl({r.url("/health")});
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("\"status\":\"ok\""), std::string::npos);
  auto metrics = curl({r.url("/metrics")});
  EXPECT_EQ(metrics.status, 200);
  write_file(dir_ / "metrics.txt", metrics.body);
  auto check =
      run_process({"sh", "-c", "promtool check metrics < " + (dir_ / "metrics.txt").string()});
  EXPECT_TRUE(check.ok()) << check.describe() << check.out;
  for (const char* name :
       {"pgship_receiver_http_requests_total", "pgship_receiver_request_duration_seconds",
        "pgship_receiver_auth_failures_total", "pgship_receiver_storage_free_bytes"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
  auto hc =
      run_process({receiver_binary(), "healthcheck"},
                  {.env = {{"PORT", std::to_string(r.port())}, {"LISTEN_ADDR", "127.0.0.1"}}});
  EXPECT_EQ(hc.exit_code, 0) << hc.describe();
  EXPECT_EQ(r.stop(SIGTERM), 0);

  // Degraded when free space is below MIN_FREE_BYTES.
  receiver_.reset();
  auto& low = start({{"MIN_FREE_BYTES", "1P"}});
  auto degraded = curl({low.url("/health")});
  EXPECT_EQ(degraded.status, 503);
  EXPECT_NE(degraded.body.find("MIN_FREE_BYTES"), std::string::npos);
  EXPECT_EQ(curl({"-H", auth, "-H", "X-Backup-Name: db-20260101-000000.dump", "--data-binary", "x",
                  low.url("/api/backup/upload")})
                .status,
            507);
}

}  // namespace
}  // namespace pgship::test

namespace pgship::test {
namespace {

TEST_F(ReceiverUpload, TlsAndMutualTls) {
  test_pki pki(dir_.path());
  auto& r =
      start({{"TLS_CERT_FILE", pki.path("server.crt")}, {"TLS_KEY_FILE", pki.path("server.key")}});
  const std::string https = "https://127.0.0.1:" + std::to_string(r.port());
  auto ok = curl({"--cacert", pki.path("ca.crt"), https + "/health"});
  EXPECT_EQ(ok.status, 200) << ok.error;
  auto upload = curl({"--cacert", pki.path("ca.crt"), "-H", auth, "-H",
                      "X-Backup-Name: db-20260101-000000.dump", "--data-binary", "tls body",
                      https + "/api/backup/upload"});
  EXPECT_EQ(upload.status, 201) << upload.body << upload.error;
  EXPECT_NE(curl({r.url("/health")}).status, 200) << "no plain HTTP on a TLS port";
  EXPECT_NE(curl({"--cacert", pki.path("ca.crt"), "--tls-max", "1.1", https + "/health"}).status,
            200)
      << "TLS 1.1 is refused";
  auto hc = run_process({receiver_binary(), "healthcheck"},
                        {.env = {{"PORT", std::to_string(r.port())},
                                 {"LISTEN_ADDR", "127.0.0.1"},
                                 {"TLS_CERT_FILE", pki.path("server.crt")},
                                 {"TLS_KEY_FILE", pki.path("server.key")}}});
  EXPECT_EQ(hc.exit_code, 0) << hc.describe();

  receiver_.reset();
  auto& m = start({{"TLS_CERT_FILE", pki.path("server.crt")},
                   {"TLS_KEY_FILE", pki.path("server.key")},
                   {"TLS_CLIENT_CA_FILE", pki.path("ca.crt")}});
  const std::string mtls = "https://127.0.0.1:" + std::to_string(m.port());
  EXPECT_NE(curl({"--cacert", pki.path("ca.crt"), mtls + "/health"}).status, 200)
      << "a client certificate is required";
  auto with_cert = curl({"--cacert", pki.path("ca.crt"), "--cert", pki.path("client.crt"), "--key",
                         pki.path("client.key"), mtls + "/health"});
  EXPECT_EQ(with_cert.status, 200) << with_cert.error;
}

}  // namespace
}  // namespace pgship::test

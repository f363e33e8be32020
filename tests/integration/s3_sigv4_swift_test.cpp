// The receiver's SigV4 signer against a real S3 engine that checks every signature and payload
// hash: OpenStack Swift's s3api, started by the project's own fixture
// (tests/support/swift/swift-s3.sh). Signed requests make a bucket, store an object and read a
// range of it back; a wrong secret and a wrong payload hash are refused.

#include <chrono>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "storage/s3/sigv4.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using verb = boost::beast::http::verb;

class SwiftS3 : public ::testing::Test {
 protected:
  void SetUp() override {
    // As root the servers run as the swift user, who must reach the directory.
    stdfs::permissions(dir_.path(), stdfs::perms::others_exec | stdfs::perms::group_exec,
                       stdfs::perm_options::add);
    const auto r = run_process({script(), "start", (dir_.path() / "swift").string()},
                               {.timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(r.ok()) << r.describe() << r.out;
    for (std::size_t at = 0; at < r.out.size();) {
      const auto nl = r.out.find('\n', at);
      const auto line = r.out.substr(at, nl - at);
      const auto eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    const auto& ep = env_["S3_ENDPOINT"];
    port_ = static_cast<unsigned short>(std::stoi(ep.substr(ep.rfind(':') + 1)));
    creds_ = {env_["S3_ACCESS_KEY"], env_["S3_SECRET_KEY"], "us-east-1", "s3"};
  }
  void TearDown() override { run_process({script(), "stop", (dir_.path() / "swift").string()}); }
  static std::string script() {
    return std::string(PGSHIP_SOURCE_DIR) + "/tests/support/swift/swift-s3.sh";
  }

  // A request signed with `creds`; `claimed_sha` is what x-amz-content-sha256 says.
  http_response signed_send(verb method, const std::string& path, const std::string& body,
                            const receiver::s3::credentials& creds,
                            std::map<std::string, std::string> headers = {},
                            std::optional<std::string> claimed_sha = std::nullopt) {
    const auto now = std::chrono::system_clock::now();
    const auto sha = claimed_sha.value_or(to_hex(sha256_of(body)));
    headers["host"] = "127.0.0.1:" + std::to_string(port_);
    headers["x-amz-date"] = receiver::s3::amz_date(now);
    headers["x-amz-content-sha256"] = sha;
    receiver::s3::signable req{
        std::string(boost::beast::http::to_string(method)), path, {}, {}, sha};
    for (const auto& [k, v] : headers)
      req.headers.emplace_back(k, v);
    http_request out{.method = method,
                     .target = receiver::s3::uri_encode(path, true),
                     .headers = headers,
                     .body = body};
    out.headers["Authorization"] = receiver::s3::authorization(req, creds, now);
    return http_send(port_, out);
  }

  temp_dir dir_;
  std::map<std::string, std::string> env_;
  unsigned short port_ = 0;
  receiver::s3::credentials creds_;
};

TEST_F(SwiftS3, SignedRequestsAreAcceptedAndForgedOnesRefused) {
  const std::string bucket = "/" + env_["S3_BUCKET"];
  ASSERT_EQ(signed_send(verb::put, bucket, "", creds_).result_int(), 200);
  const auto body = random_bytes(100000, 9);
  const std::string key = bucket + "/default/app/app-20261201-030000.dump";
  const auto put = signed_send(verb::put, key, body, creds_);
  ASSERT_EQ(put.result_int(), 200) << put.body();
  const auto get = signed_send(verb::get, key, "", creds_, {{"range", "bytes=10-19"}});
  EXPECT_EQ(get.result_int(), 206) << get.body();
  EXPECT_EQ(get.body(), body.substr(10, 10));
  const auto head = signed_send(verb::head, key, "", creds_);
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(std::string(head["Content-Length"]), "100000");

  // A wrong secret: the engine's own signature differs.
  auto forged = creds_;
  forged.secret_key[0] = forged.secret_key[0] == 'a' ? 'b' : 'a';
  const auto denied = signed_send(verb::get, key, "", forged);
  EXPECT_EQ(denied.result_int(), 403) << denied.body();
  EXPECT_NE(denied.body().find("SignatureDoesNotMatch"), std::string::npos) << denied.body();
  // A body that is not the one whose hash was signed is not stored.
  const auto tampered = signed_send(verb::put, bucket + "/tampered", "other bytes", creds_, {},
                                    to_hex(sha256_of("the signed bytes")));
  EXPECT_EQ(tampered.result_int(), 400) << tampered.body();
  // Swift names it BadDigest, AWS and Ceph XAmzContentSHA256Mismatch.
  EXPECT_TRUE(tampered.body().find("BadDigest") != std::string::npos ||
              tampered.body().find("XAmzContentSHA256Mismatch") != std::string::npos)
      << tampered.body();
  EXPECT_EQ(signed_send(verb::head, bucket + "/tampered", "", creds_).result_int(), 404);
}

}  // namespace
}  // namespace pgship::test

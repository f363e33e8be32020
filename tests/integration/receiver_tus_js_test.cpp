// The reference tus client, tus-js-client (npm, on Debian's nodejs), against a real receiver:
// a chunked upload, one whose connection is cut mid-way and that resumes from the offset HEAD
// reports, and a finished upload started again, which learns from HEAD that it is done. An
// independent client interoperating is the proof, not only our own agent.

#include <filesystem>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "curl.hpp"
#include "fault_proxy.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;

const stdfs::path client_dir = PGSHIP_TUS_JS_DIR;

class ReceiverTusJs : public receiver_fixture {
 protected:
  ReceiverTusJs() : receiver_fixture("tus-js-token") {}

  void SetUp() override {
    // Installed by deploy/install-deps.sh (npm ci); a missing client is a failure, not a skip.
    ASSERT_TRUE(stdfs::exists(client_dir / "node_modules" / "tus-js-client"))
        << "tus-js-client is not installed: run deploy/install-deps.sh";
  }

  struct outcome {
    json::object result;
    process_result run;
  };
  outcome upload(unsigned short port, const stdfs::path& file, const std::string& name,
                 std::size_t chunk, const std::string& upload_url = "") {
    const auto sha = to_hex(sha256_of(read_file(file)));
    std::vector<std::string> argv = {
        "node",
        (client_dir / "upload.mjs").string(),
        "http://127.0.0.1:" + std::to_string(port) + "/api/backup/uploads",
        file.string(),
        name,
        sha,
        token_,
        std::to_string(chunk)};
    if (!upload_url.empty()) argv.push_back(upload_url);
    outcome o;
    o.run = run_process(argv, {.timeout = std::chrono::seconds(60)});
    const auto line = o.run.out.substr(0, o.run.out.find('\n'));
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (!ec && v.is_object()) o.result = v.as_object();
    return o;
  }
  stdfs::path stored(const std::string& name) const {
    return receiver_->storage_dir() / "default" / "app" / name;
  }
  int count_in_log(const std::string& what) const {
    const auto log = receiver_->log();
    int n = 0;
    for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1))
      ++n;
    return n;
  }
};

TEST_F(ReceiverTusJs, AChunkedUploadCommitsAndAFinishedOneStartedAgainIsDone) {
  start();
  const auto file = dir_ / "a.bin";
  write_file(file, random_bytes(1024 * 1024 + 77, 5));
  const std::string name = "app-20260401-020000.dump";
  const auto first = upload(receiver_->port(), file, name, 256 * 1024);
  ASSERT_EQ(first.result.if_contains("ok") ? first.result.at("ok").as_bool() : false, true)
      << first.run.out << first.run.err;
  EXPECT_EQ(read_file(stored(name)), read_file(file));
  // Five chunks, each PATCH answered 204 (the completing one too).
  EXPECT_EQ(count_in_log("method=PATCH path=/api/backup/uploads/"), 5) << receiver_->log();
  EXPECT_EQ(count_in_log("method=PATCH path=/api/backup/uploads/"), count_in_log("status=204"))
      << receiver_->log();

  // Started again on the finished upload's URL: HEAD says it is complete, nothing is sent.
  const std::string url(first.result.at("url").as_string());
  const auto again = upload(receiver_->port(), file, name, 256 * 1024, url);
  ASSERT_TRUE(again.result.if_contains("ok") && again.result.at("ok").as_bool())
      << again.run.out << again.run.err;
  EXPECT_EQ(count_in_log("method=HEAD path=/api/backup/uploads/"), 1) << receiver_->log();
  EXPECT_EQ(count_in_log("method=PATCH path=/api/backup/uploads/"), 5) << "no byte sent again";
  EXPECT_EQ(
      curl({"-H", "Authorization: Bearer " + token_, receiver_->url("/api/backup/list")}).status,
      200);
}

TEST_F(ReceiverTusJs, ACutConnectionResumesFromTheOffsetTheReceiverReports) {
  start();
  fault_proxy proxy(receiver_->port());
  const auto file = dir_ / "b.bin";
  write_file(file, random_bytes(2 * 1024 * 1024, 6));
  const std::string name = "app-20260401-030000.dump";
  // The connection carrying the first chunk's PATCH is cut 600 KiB into its body.
  proxy.cut_after(600 * 1024, 1);
  const auto r = upload(proxy.port(), file, name, 1024 * 1024);
  ASSERT_TRUE(r.result.if_contains("ok") && r.result.at("ok").as_bool())
      << r.run.out << r.run.err << receiver_->log();
  EXPECT_EQ(proxy.connections_cut(), 1);
  EXPECT_FALSE(r.result.at("errors").as_array().empty()) << "the cut was seen and retried";
  EXPECT_GE(count_in_log("method=HEAD path=/api/backup/uploads/"), 1) << receiver_->log();
  EXPECT_EQ(read_file(stored(name)), read_file(file));
  // Fewer bytes went upstream than the file twice over: the retry did not start from zero.
  EXPECT_LT(proxy.bytes_to_upstream(), 2 * stdfs::file_size(file) + 100000);
}

}  // namespace
}  // namespace pgship::test

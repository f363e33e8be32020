// GET /api/backup/whoami and GET /readyz against a real receiver: what a token is and whether
// its client can upload now (scope, writable storage, MIN_FREE_BYTES, its own QUOTA_BYTES),
// and readiness that a scrub finding or another client's state never takes away. The
// healthcheck subcommand asks readiness, so a container with a quarantined backup stays healthy.

#include <fstream>

#include <gtest/gtest.h>

#include <pgship/common/whoami.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

const std::string alpha = "alpha-token-5c1d";  // upload only
const std::string beta = "beta-token-08ae";    // upload only, another client
const std::string reader = "reader-token-77f2";
const std::string ops = "ops-token-a913";  // admin

class ReceiverWhoami : public receiver_fixture {
 protected:
  ReceiverWhoami() : receiver_fixture("") {}

  receiver_process& start_with_clients(std::map<std::string, std::string> env = {}) {
    const auto tokens = dir_ / "tokens";
    write_file(tokens, "alpha:upload:" + alpha + "\nbeta:upload:" + beta +
                           "\nreader:read:" + reader + "\nops:admin:" + ops + "\n");
    env["API_TOKENS_FILE"] = tokens.string();
    return start(std::move(env));
  }
  http_response get(const std::string& target, const std::string& bearer = "") {
    std::map<std::string, std::string> headers;
    if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
    return http_send(receiver_->port(), {.target = target, .headers = headers});
  }
  wire::whoami_reply whoami(const std::string& bearer) {
    const auto res = get("/api/backup/whoami", bearer);
    EXPECT_EQ(res.result_int(), 200) << res.body();
    auto reply = wire::parse_whoami(res.body());
    EXPECT_TRUE(reply.has_value()) << res.body();
    return reply.value_or(wire::whoami_reply{});
  }
  int upload(const std::string& bearer, const std::string& name, std::size_t size) {
    return http_send(receiver_->port(),
                     {.method = verb::post,
                      .target = "/api/backup/upload",
                      .headers = {{"Authorization", "Bearer " + bearer}, {"X-Backup-Name", name}},
                      .body = random_bytes(size, 7)})
        .result_int();
  }
  int healthcheck(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{receiver_binary(), "healthcheck"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, {.env = {{"PORT", std::to_string(receiver_->port())},
                                      {"LISTEN_ADDR", "127.0.0.1"}}})
        .exit_code;
  }
};

TEST_F(ReceiverWhoami, ScopesSayWhoMayUploadAndABadTokenIs401) {
  start_with_clients();
  const auto a = whoami(alpha);
  EXPECT_EQ(a.client, "alpha");
  EXPECT_EQ(a.scopes, std::vector<std::string>{"upload"});
  EXPECT_TRUE(a.can_upload) << a.reason;
  EXPECT_TRUE(a.reason.empty()) << a.reason;
  EXPECT_TRUE(a.free_bytes.has_value());
  EXPECT_FALSE(a.quota_left_bytes.has_value()) << "no QUOTA_BYTES set";

  const auto r = whoami(reader);
  EXPECT_EQ(r.client, "reader");
  EXPECT_EQ(r.scopes, std::vector<std::string>{"read"});
  EXPECT_FALSE(r.can_upload);
  EXPECT_NE(r.reason.find("upload scope"), std::string::npos) << r.reason;

  // admin implies every scope, upload included.
  const auto o = whoami(ops);
  EXPECT_EQ(o.scopes, std::vector<std::string>{"admin"});
  EXPECT_TRUE(o.can_upload) << o.reason;

  const auto bad = get("/api/backup/whoami", "not-a-token");
  EXPECT_EQ(bad.result_int(), 401) << bad.body();
  EXPECT_FALSE(wire::parse_whoami(bad.body()).has_value()) << bad.body();
  EXPECT_EQ(get("/api/backup/whoami").result_int(), 401);
  EXPECT_NE(receiver_->log().find("auth failed from 127.0.0.1"), std::string::npos)
      << receiver_->log();
  EXPECT_NE(receiver_->log().find("/api/backup/whoami"), std::string::npos);
}

TEST_F(ReceiverWhoami, BelowMinFreeBytesNoClientCanUploadButTheReceiverStaysReady) {
  start_with_clients({{"MIN_FREE_BYTES", "1P"}});
  const auto a = whoami(alpha);
  EXPECT_FALSE(a.can_upload);
  EXPECT_NE(a.reason.find("MIN_FREE_BYTES"), std::string::npos) << a.reason;
  ASSERT_TRUE(a.free_bytes.has_value());
  EXPECT_LT(*a.free_bytes, 1ull << 50);
  // What whoami says is what an upload meets: 507, as DESIGN wants below MIN_FREE_BYTES.
  EXPECT_EQ(upload(alpha, "db-20260101-030000.dump", 1000), 507);
  EXPECT_EQ(get("/health").result_int(), 503);
  // Reads and restores still work on a full disk: that is no reason to leave a load balancer.
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.result_int(), 200) << ready.body();
  EXPECT_EQ(healthcheck(), 0);
  EXPECT_EQ(healthcheck({"--full"}), 1);
}

TEST_F(ReceiverWhoami, AClientThatUsedUpItsQuotaCannotUploadAnotherCan) {
  start_with_clients({{"QUOTA_BYTES", "1M"}});
  EXPECT_EQ(whoami(alpha).quota_left_bytes, std::optional<std::uint64_t>(1 << 20));
  ASSERT_EQ(upload(alpha, "db-20260101-030000.dump", 1 << 20), 201);
  const auto a = whoami(alpha);
  EXPECT_FALSE(a.can_upload);
  EXPECT_NE(a.reason.find("QUOTA_BYTES"), std::string::npos) << a.reason;
  EXPECT_EQ(a.quota_left_bytes, std::optional<std::uint64_t>(0));
  EXPECT_EQ(upload(alpha, "db-20260102-030000.dump", 1000), 507);

  const auto b = whoami(beta);
  EXPECT_TRUE(b.can_upload) << b.reason;
  EXPECT_EQ(b.quota_left_bytes, std::optional<std::uint64_t>(1 << 20));
  EXPECT_EQ(get("/readyz").result_int(), 200);
}

TEST_F(ReceiverWhoami, AScrubFindingDegradesHealthButNeverReadinessOrUploads) {
  auto& r = start_with_clients();
  const std::string name = "db-20260101-030000.dump";
  ASSERT_EQ(upload(alpha, name, 2 << 20), 201);
  const auto stored = r.storage_dir() / "alpha" / "db" / name;
  {
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x5a');
    f.seekp(1001);
    f.put('\xa5');
  }
  const auto started = http_send(r.port(), {.method = verb::post,
                                            .target = "/api/backup/scrub",
                                            .headers = {{"Authorization", "Bearer " + ops}}});
  ASSERT_EQ(started.result_int(), 202) << started.body();
  ASSERT_TRUE(wait_until(
      [&] { return stdfs::exists(r.storage_dir() / ".quarantine" / "alpha" / "db" / name); }, 30s))
      << r.log();

  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 503) << health.body();
  EXPECT_NE(health.body().find("quarantine"), std::string::npos) << health.body();
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.result_int(), 200) << ready.body();
  EXPECT_NE(ready.body().find("\"ready\""), std::string::npos) << ready.body();

  const auto b = whoami(beta);
  EXPECT_TRUE(b.can_upload) << b.reason;
  // Not even the client whose backup rotted is refused: its next backup is what it needs.
  const auto a = whoami(alpha);
  EXPECT_TRUE(a.can_upload) << a.reason;
  EXPECT_EQ(upload(beta, "db-20260102-030000.dump", 1000), 201);
  EXPECT_EQ(upload(alpha, "db-20260103-030000.dump", 1000), 201);

  // The container health check asks readiness; --full asks /health.
  EXPECT_EQ(healthcheck(), 0);
  EXPECT_EQ(healthcheck({"--full"}), 1);
}

TEST_F(ReceiverWhoami, StorageThatCannotBeWrittenIsNotReadyAndNobodyCanUpload) {
  auto& r = start_with_clients();
  EXPECT_EQ(get("/readyz").result_int(), 200);
  // The volume went away under the receiver (as root, a mode bit would not stop a write).
  const auto incoming = r.storage_dir() / ".incoming";
  const auto aside = r.storage_dir() / "incoming-aside";
  stdfs::rename(incoming, aside);
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.result_int(), 503) << ready.body();
  EXPECT_NE(ready.body().find("not writable"), std::string::npos) << ready.body();
  EXPECT_EQ(get("/health").result_int(), 503);
  const auto a = whoami(alpha);
  EXPECT_FALSE(a.can_upload);
  EXPECT_NE(a.reason.find("not writable"), std::string::npos) << a.reason;
  EXPECT_EQ(healthcheck(), 1);

  stdfs::rename(aside, incoming);
  EXPECT_EQ(get("/readyz").result_int(), 200);
  EXPECT_TRUE(whoami(alpha).can_upload);
}

}  // namespace
}  // namespace pgship::test

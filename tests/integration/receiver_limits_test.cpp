// The receiver's limits as an attacker and a legitimate client meet them, over real loopback
// connections to a real process: RATE_LIMIT (nginx arithmetic, 429 + Retry-After),
// AUTH_FAILURE_LIMIT (a brute force locked out, a right token included), MAX_CONNECTIONS_PER_IP,
// slowloris connections that never finish a header, CLIENT_MAX_RATE on upload bodies, and the
// agent waiting out a 429. Each ends with a legitimate request that still succeeds.

#include <chrono>
#include <future>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_fixture.hpp"
#include "curl.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class ReceiverLimits : public agent_fixture {
 protected:
  std::string auth() const { return "Authorization: Bearer " + token_; }
  curl_result list_from(const std::string& source_ip, const std::string& token) {
    return curl({"--interface", source_ip, "-H", "Authorization: Bearer " + token, "-D", "-",
                 receiver_->url("/api/backup/list")});
  }
  double metric(const std::string& series) {
    const auto text = curl({"--interface", "127.0.0.3", receiver_->url("/metrics")}).body;
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }
  // A TCP connection to the receiver that sends `bytes` and keeps the socket open.
  int connect_raw(const std::string& bytes = "") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(receiver_->port());
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    if (!bytes.empty()) (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    return fd;
  }
};

int header_status(const curl_result& r) {
  return r.status;
}

std::string header_value(const std::string& response, const std::string& name) {
  const auto at = response.find(name + ": ");
  if (at == std::string::npos) return {};
  return response.substr(at + name.size() + 2, response.find('\r', at) - at - name.size() - 2);
}

TEST_F(ReceiverLimits, RequestsBeyondTheBurstGet429WithRetryAfterAndPassOnceItDrains) {
  write_file(dir_ / "tokens", "other:read:other-token\n");
  // One token every 15 s: the eight requests below must not see a refill, however slowly a
  // busy machine runs them (at 2r/s a loaded loop of curl processes earned extra passes).
  start({{"RATE_LIMIT", "4r/m"},
         {"RATE_BURST", "3"},
         {"AUTH_FAILURE_LIMIT", "off"},
         {"API_TOKENS_FILE", (dir_ / "tokens").string()}});
  int ok = 0;
  curl_result refused;
  for (int i = 0; i < 8; ++i) {
    const auto r = list_from("127.0.0.1", token_);
    if (r.status == 200) ++ok;
    if (r.status == 429) refused = r;
  }
  EXPECT_EQ(ok, 4) << "burst 3 + the request itself";
  ASSERT_EQ(refused.status, 429);
  const auto retry = header_value(refused.body, "Retry-After");
  ASSERT_FALSE(retry.empty()) << refused.body;
  EXPECT_GE(std::stoi(retry), 1);
  EXPECT_NE(refused.body.find("\"error\":\"rate_limited\""), std::string::npos);
  EXPECT_GE(metric("pgship_receiver_rate_limited_total{reason=\"rate\"}"), 4);
  // Another address with another token is not held up by this one. The token's own bucket is
  // spent too: from a fresh address the same token waits as well.
  EXPECT_EQ(header_status(list_from("127.0.0.2", "other-token")), 200);
  EXPECT_EQ(header_status(list_from("127.0.0.3", token_)), 429);
  // Both pass once the wait is over.
  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(retry)));
  const auto later = list_from("127.0.0.1", token_);
  EXPECT_EQ(later.status, 200) << later.body;
  EXPECT_NE(receiver_->log().find("rate limited 127.0.0.1"), std::string::npos);
}

TEST_F(ReceiverLimits, ABruteForceIsLockedOutRightTokenIncludedWhileOthersCarryOn) {
  start({{"RATE_LIMIT", "off"}, {"AUTH_FAILURE_LIMIT", "3r/m"}});
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(list_from("127.0.0.1", "guess-" + std::to_string(i)).status, 401) << i;
  }
  // Past the limit: the right token is refused too, and says for how long.
  const auto locked = list_from("127.0.0.1", token_);
  EXPECT_EQ(locked.status, 429) << locked.body;
  const auto retry = header_value(locked.body, "Retry-After");
  ASSERT_FALSE(retry.empty());
  EXPECT_GE(std::stoi(retry), 60);
  EXPECT_LE(std::stoi(retry), 80);
  EXPECT_EQ(metric("pgship_receiver_rate_limited_total{reason=\"auth_failures\"}"), 1);
  EXPECT_EQ(metric("pgship_receiver_auth_failures_total"), 4);
  // A client at another address is served.
  EXPECT_EQ(list_from("127.0.0.2", token_).status, 200);
}

TEST_F(ReceiverLimits, ConnectionsBeyondThePerAddressLimitAreRefusedAtOnce) {
  start({{"MAX_CONNECTIONS_PER_IP", "5"}});
  std::vector<int> held;
  for (int i = 0; i < 5; ++i)
    held.push_back(connect_raw());
  std::this_thread::sleep_for(200ms);  // accepted and counted
  const auto sixth = curl({"-H", auth(), receiver_->url("/api/backup/list")});
  EXPECT_EQ(sixth.status, 429) << sixth.body << sixth.error;
  EXPECT_NE(sixth.body.find("too_many_connections"), std::string::npos) << sixth.body;
  EXPECT_EQ(list_from("127.0.0.2", token_).status, 200);
  EXPECT_GE(metric("pgship_receiver_rate_limited_total{reason=\"connections\"}"), 1);
  for (const int fd : held)
    ::close(fd);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(list_from("127.0.0.1", token_).status, 200);
}

TEST_F(ReceiverLimits, HealthAnswersWithinASecondWhileAHundredSlowlorisConnectionsTrickle) {
  start({{"IDLE_TIMEOUT", "30s"}});
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) {
    const int fd = connect_raw("GET /api/backup/list HTTP/1.1\r\nHost: x\r\nX-Slow-" +
                               std::to_string(i) + ": ");
    ASSERT_GE(fd, 0) << i;
    slow.push_back(fd);
  }
  // They keep trickling one byte at a time while /health is asked.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (const int fd : slow)
        (void)::send(fd, "a", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(100ms);
    }
  });
  for (int i = 0; i < 5; ++i) {
    const auto t0 = steady::now();
    const auto health = curl({"--max-time", "1", receiver_->url("/health")});
    const auto took = steady::now() - t0;
    EXPECT_EQ(health.status, 200) << health.error;
    EXPECT_LT(took, 1s);
  }
  EXPECT_EQ(list_from("127.0.0.2", token_).status, 200);
  stop = true;
  trickle.join();
  for (const int fd : slow)
    ::close(fd);
}

TEST_F(ReceiverLimits, ClientMaxRateCapsAClientsUploadsTogetherAndSharesItEvenly) {
  start({{"CLIENT_MAX_RATE", "1M"}, {"RATE_LIMIT", "off"}});
  const auto a = dir_ / "a.bin";
  const auto b = dir_ / "b.bin";
  write_file(a, random_bytes(1536 * 1024, 1));
  write_file(b, random_bytes(1536 * 1024, 2));
  const auto upload = [&](const std::filesystem::path& file, const std::string& name) {
    const auto t0 = steady::now();
    const auto r = curl({"-H", auth(), "-H", "X-Backup-Name: " + name, "--data-binary",
                         "@" + file.string(), receiver_->url("/api/backup/upload")});
    return std::make_pair(r.status, std::chrono::duration<double>(steady::now() - t0).count());
  };
  auto fa = std::async(std::launch::async, upload, a, "db-20260101-000001.dump");
  auto fb = std::async(std::launch::async, upload, b, "db-20260101-000002.dump");
  const auto ra = fa.get();
  const auto rb = fb.get();
  EXPECT_EQ(ra.first, 201);
  EXPECT_EQ(rb.first, 201);
  // 3 MiB at 1 MiB/s with a 256 KiB burst: about 2.75 s for both together, neither done
  // long before the other.
  EXPECT_GT(std::max(ra.second, rb.second), 2.3);
  EXPECT_LT(std::max(ra.second, rb.second), 6.0);
  EXPECT_LT(std::abs(ra.second - rb.second), 1.0) << ra.second << " vs " << rb.second;
  EXPECT_EQ(list_from("127.0.0.1", token_).status, 200);
}

TEST_F(ReceiverLimits, TheAgentWaitsOutA429AndTheBackupLands) {
  auto& pg = pg_cluster::shared();
  pg.create_database("limits_src");
  pg.load_sample_data("limits_src", 3000);
  start({{"RATE_LIMIT", "2r/s"}, {"RATE_BURST", "2"}});
  const auto cfg = write_config(
      agent_config("limits_src", {{"UPLOAD_CHUNK_SIZE", "64K"}, {"MAX_RETRIES", "0"}}));
  const auto r = run_agent({"backup", "--config", cfg.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("asks to wait"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(stored_dumps("limits_src").size(), 1u);
  EXPECT_GE(metric("pgship_receiver_rate_limited_total{reason=\"rate\"}"), 1);
}

TEST_F(ReceiverLimits, EveryKnownClientsSeriesExistsFromStartUp) {
  write_file(dir_ / "tokens", "alpha:upload:alpha-token\nbeta:read:beta-token\n");
  start({{"API_TOKENS_FILE", (dir_ / "tokens").string()}});
  for (const std::string client : {"default", "alpha", "beta"}) {
    EXPECT_EQ(metric("pgship_receiver_uploads_total{client=\"" + client + "\",result=\"created\"}"),
              0)
        << client;
    EXPECT_EQ(metric("pgship_receiver_bytes_received_total{client=\"" + client + "\"}"), 0);
  }
  for (const std::string reason : {"rate", "auth_failures", "connections"}) {
    EXPECT_EQ(metric("pgship_receiver_rate_limited_total{reason=\"" + reason + "\"}"), 0);
  }
}

}  // namespace
}  // namespace pgship::test

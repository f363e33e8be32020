// The receiver's own events reach WEBHOOK_URL (a stand-in service that records requests):
// a scrub finding, a WAL gap, and free space below MIN_FREE_BYTES, each as a signed
// pgship.event.v1 that openssl's HMAC verifies, counted in pgship_webhook_deliveries_total.

#include <fstream>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/wal.hpp>

#include "http_client.hpp"
#include "listening_process.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
namespace wal_wire = wire::wal;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;

const std::string token = "events-token-5c1d";
const std::string secret = "receiver-hook-key-9e21";

class ReceiverEvents : public receiver_fixture {
 protected:
  ReceiverEvents() : receiver_fixture(token) {}

  void SetUp() override {
    hooks_ = start_listening_process(
        std::string(PGSHIP_SOURCE_DIR) + "/tests/support/recording_http_server.py",
        {(dir_ / "hooks.jsonl").string()}, {}, dir_ / "hooks.log");
  }
  void TearDown() override {
    receiver_fixture::TearDown();
    stop_process(hooks_.pid, SIGTERM, 5s);
  }

  std::map<std::string, std::string> hooked(std::map<std::string, std::string> more = {}) {
    more["WEBHOOK_URL"] = "http://127.0.0.1:" + std::to_string(hooks_.port) + "/receiver";
    more["WEBHOOK_EVENTS"] = "*";
    more["WEBHOOK_SECRET"] = secret;
    more["STORAGE_DIR"] = (dir_ / "storage").string();
    return more;
  }

  // The event named `name` the service has received, waiting up to `limit` for it.
  std::optional<boost::json::object> wait_for(const std::string& name,
                                              std::chrono::milliseconds limit = 60s) {
    std::optional<boost::json::object> found;
    wait_until(
        [&] {
          std::ifstream in(dir_ / "hooks.jsonl");
          for (std::string line; std::getline(in, line);) {
            const auto request = boost::json::parse(line).as_object();
            const std::string body(request.at("body").as_string());
            const auto e = boost::json::parse(body).as_object();
            if (e.at("event").as_string() != name) continue;
            // The signature, as openssl computes it.
            const auto mac = run_process({"openssl", "dgst", "-sha256", "-hmac", secret, "-r"},
                                         {.stdin_data = body});
            EXPECT_EQ(request.at("headers").at("X-Pgship-Signature").as_string(),
                      "sha256=" + mac.out.substr(0, 64));
            found = e;
            return true;
          }
          return false;
        },
        limit);
    return found;
  }

  started_process hooks_;
};

TEST_F(ReceiverEvents, AScrubFindingAWalGapAndLowSpaceAreSignedEvents) {
  auto& r = start(hooked());
  const std::string name = "db-20260101-030000.dump";
  const auto up = http_send(
      r.port(), {.method = verb::post,
                 .target = "/api/backup/upload",
                 .headers = {{"Authorization", "Bearer " + token}, {"X-Backup-Name", name}},
                 .body = random_bytes(1 << 20, 3)});
  ASSERT_EQ(up.result_int(), 201) << up.body();
  {
    std::fstream f(r.storage_dir() / "default" / "db" / name,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  const auto scrub = http_send(r.port(), {.method = verb::post,
                                          .target = "/api/backup/scrub",
                                          .headers = {{"Authorization", "Bearer " + token}}});
  ASSERT_LT(scrub.result_int(), 300) << scrub.body();
  const auto finding = wait_for("scrub.finding");
  ASSERT_TRUE(finding) << read_file(dir_ / "hooks.jsonl");
  EXPECT_EQ(finding->at("schema").as_string(), "pgship.event.v1");
  EXPECT_EQ(finding->at("source").as_string(), "receiver");
  EXPECT_EQ(finding->at("client").as_string(), "default");
  EXPECT_EQ(finding->at("database").as_string(), "db");
  EXPECT_EQ(finding->at("backup").as_string(), name);
  EXPECT_NE(std::string(finding->at("message").as_string()).find("moved to .quarantine/"),
            std::string::npos);

  // A WAL gap the agent records: one event, not one per repeat.
  const std::string system = "7291436153284653321";
  const auto bytes = random_bytes(1 << 16, 9);
  const auto unit = http_send(
      r.port(),
      {.method = verb::put,
       .target = wal_wire::unit_path(system, "000000010000000000000003.00000000-00010000"),
       .headers = {{"Authorization", "Bearer " + token},
                   {"X-Content-SHA256", to_hex(sha256_of(bytes))},
                   {std::string(wal_wire::header::plaintext_sha256), to_hex(sha256_of(bytes))},
                   {std::string(wal_wire::header::plaintext_size), std::to_string(bytes.size())},
                   {std::string(wal_wire::header::segment_size), std::to_string(1 << 20)}},
       .body = bytes});
  ASSERT_EQ(unit.result_int(), 201) << unit.body();
  wal_wire::gap_record gap;
  gap.timeline = 1;
  gap.from = 0x5000000;
  gap.to = 0x7000000;
  gap.reason = "slot lost its WAL";
  gap.detected_at = "2026-12-07T10:00:00Z";
  for (int i = 0; i < 2; ++i) {
    const auto posted = http_send(r.port(), {.method = verb::post,
                                             .target = "/api/wal/" + system + "/gaps",
                                             .headers = {{"Authorization", "Bearer " + token}},
                                             .body = wal_wire::encode_gap(gap)});
    ASSERT_EQ(posted.result_int(), i == 0 ? 201 : 200) << posted.body();
  }
  const auto gap_event = wait_for("wal.gap");
  ASSERT_TRUE(gap_event) << read_file(dir_ / "hooks.jsonl");
  EXPECT_EQ(gap_event->at("details").at("system").as_string(), system);
  EXPECT_EQ(gap_event->at("details").at("from").as_string(), "0/5000000");
  EXPECT_NE(std::string(gap_event->at("message").as_string()).find("slot lost its WAL"),
            std::string::npos);

  // Free space below MIN_FREE_BYTES (a floor no disk meets).
  auto& low = start(hooked({{"MIN_FREE_BYTES", "1000000T"}}));
  const auto storage_low = wait_for("storage.low");
  ASSERT_TRUE(storage_low) << read_file(dir_ / "hooks.jsonl");
  EXPECT_NE(std::string(storage_low->at("message").as_string()).find("MIN_FREE_BYTES"),
            std::string::npos);
  EXPECT_TRUE(wait_until(
      [&] {
        return http_send(low.port(), {.target = "/metrics"})
                   .body()
                   .find("pgship_webhook_deliveries_total{result=\"delivered\"} 1") !=
               std::string::npos;
      },
      30s))
      << http_send(low.port(), {.target = "/metrics"}).body();

  std::ifstream in(dir_ / "hooks.jsonl");
  int gaps = 0;
  for (std::string line; std::getline(in, line);)
    gaps += line.find("\\\"wal.gap\\\"") != std::string::npos;
  EXPECT_EQ(gaps, 1) << "the repeated gap is no new event";
}

}  // namespace
}  // namespace pgship::test

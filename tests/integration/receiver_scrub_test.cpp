// The receiver re-reads what it stores: a byte flipped in a stored backup is found by a
// scrub (on request or on its schedule), the backup moves to .quarantine/, leaves the list,
// turns /health degraded and counts in pgship_receiver_corrupt_backups; retention then keeps
// the good older backup instead of the corrupt newest one.

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "process.hpp"
#include "receiver_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using verb = boost::beast::http::verb;

const std::string token = "scrub-token-6b2e";

double metric(unsigned short port, const std::string& sample) {
  const auto body = http_send(port, {.target = "/metrics"}).body();
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(sample + " ")) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

class ReceiverScrub : public receiver_fixture {
 protected:
  ReceiverScrub() : receiver_fixture(token) {}

  void upload(const std::string& name, std::size_t size, std::uint32_t seed) {
    const auto res =
        http_send(receiver_->port(),
                  {.method = verb::post,
                   .target = "/api/backup/upload",
                   .headers = {{"Authorization", "Bearer " + token}, {"X-Backup-Name", name}},
                   .body = random_bytes(size, seed)});
    ASSERT_EQ(res.result_int(), 201) << res.body();
  }
  stdfs::path stored(const std::string& name) const {
    return receiver_->storage_dir() / "default" / "db" / name;
  }
  void flip_a_byte(const stdfs::path& file) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    const char c = static_cast<char>(f.get());
    f.seekp(1000);
    f.put(static_cast<char>(c ^ 0x01));
  }
  http_response post_scrub(const std::string& bearer) {
    return http_send(receiver_->port(), {.method = verb::post,
                                         .target = "/api/backup/scrub",
                                         .headers = {{"Authorization", "Bearer " + bearer}}});
  }
  std::string list() {
    return http_send(receiver_->port(), {.target = "/api/backup/list",
                                         .headers = {{"Authorization", "Bearer " + token}}})
        .body();
  }
};

const std::string older = "db-20260101-030000.dump";
const std::string newer = "db-20260102-030000.dump";

TEST_F(ReceiverScrub, ACorruptBackupIsQuarantinedAndRetentionKeepsTheGoodOlderOne) {
  // In the fixture's directory, so that a receiver started with other settings finds it.
  const auto storage = (dir_ / "storage").string();
  auto& r = start({{"STORAGE_DIR", storage}});
  upload(older, 3 << 20, 1);
  upload(newer, 2 << 20, 2);
  ASSERT_EQ(metric(r.port(), "pgship_receiver_corrupt_backups"), 0);
  // Never scrubbed yet: the baseline is kept, so restarts do not push the first scrub away.
  const auto state = r.storage_dir() / ".scrub-last-completed";
  const std::string baseline = read_file(state);
  EXPECT_NE(baseline.find("first-start"), std::string::npos) << baseline;
  EXPECT_EQ(metric(r.port(), "pgship_receiver_scrub_last_completed_timestamp_seconds"), 0);
  flip_a_byte(stored(newer));

  const auto started = post_scrub(token);
  EXPECT_EQ(started.result_int(), 202) << started.body();
  ASSERT_TRUE(
      wait_until([&] { return metric(r.port(), "pgship_receiver_corrupt_backups") == 1; }, 30s))
      << r.log();
  EXPECT_FALSE(stdfs::exists(stored(newer)));
  EXPECT_TRUE(stdfs::exists(r.storage_dir() / ".quarantine" / "default" / "db" / newer));
  EXPECT_TRUE(stdfs::exists(r.storage_dir() / ".quarantine" / "default" / "db" /
                            (newer.substr(0, newer.size() - 5) + ".json")));
  const auto listed = list();
  EXPECT_EQ(listed.find(newer), std::string::npos) << listed;
  EXPECT_NE(listed.find(older), std::string::npos) << listed;
  const auto health = http_send(r.port(), {.target = "/health"});
  EXPECT_EQ(health.result_int(), 503) << health.body();
  EXPECT_NE(health.body().find("quarantine"), std::string::npos) << health.body();
  EXPECT_GE(metric(r.port(), "pgship_receiver_scrub_bytes_total"), (3 << 20) + (2 << 20));
  EXPECT_NE(r.log().find("moved to .quarantine/"), std::string::npos) << r.log();
  // The good one was read and left alone.
  EXPECT_TRUE(stdfs::exists(stored(older)));
  EXPECT_NE(read_file(state).find("completed"), std::string::npos);
  EXPECT_GT(metric(r.port(), "pgship_receiver_scrub_last_completed_timestamp_seconds"), 0);

  // GFS retention never keeps the newest-but-corrupt one in place of the good one: with one
  // day kept, the newest listed backup stays, and that is now the older, intact one.
  r.stop();
  start({{"KEEP_DAYS", "1"}, {"STORAGE_DIR", storage}});
  std::this_thread::sleep_for(6500ms);  // housekeeping applies retention 5 s after start
  EXPECT_TRUE(stdfs::exists(stored(older))) << receiver_->log();
  EXPECT_TRUE(stdfs::exists(receiver_->storage_dir() / ".quarantine" / "default" / "db" / newer));
  EXPECT_EQ(metric(receiver_->port(), "pgship_receiver_corrupt_backups"), 1);
}

TEST_F(ReceiverScrub, ScheduledScrubRunsByItselfAndOnlyAdminMayStartOne) {
  const auto tokens = dir_ / "tokens";
  write_file(tokens, "default:upload,read:" + token + "\nops:admin:ops-token-19f0\n");
  auto& r = start({{"API_TOKENS_FILE", tokens.string()},
                   {"BACKUP_API_TOKEN", ""},
                   {"SCRUB_INTERVAL", "2s"},
                   {"SCRUB_RATE", "50M"}});
  upload(older, 1 << 20, 3);
  EXPECT_EQ(post_scrub(token).result_int(), 403) << "an upload token cannot start a scrub";
  EXPECT_EQ(post_scrub("ops-token-19f0").result_int(), 202);
  // Bytes are counted as read, the completion when the scrub ends: wait for the end.
  ASSERT_TRUE(wait_until(
      [&] {
        return metric(r.port(), "pgship_receiver_scrub_last_completed_timestamp_seconds") > 0 &&
               metric(r.port(), "pgship_receiver_scrub_bytes_total") >= (1 << 20);
      },
      30s));
  EXPECT_EQ(metric(r.port(), "pgship_receiver_corrupt_backups"), 0);
  const double first = metric(r.port(), "pgship_receiver_scrub_last_completed_timestamp_seconds");

  flip_a_byte(stored(older));
  // No request this time: the schedule (every 2 s) finds it.
  ASSERT_TRUE(
      wait_until([&] { return metric(r.port(), "pgship_receiver_corrupt_backups") == 1; }, 30s))
      << r.log();
  // The rot is counted when found, the completion when that scrub ends: wait for the end.
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(r.port(), "pgship_receiver_scrub_last_completed_timestamp_seconds") > first;
      },
      30s));
  EXPECT_NE(r.log().find("trigger=schedule"), std::string::npos) << r.log();
  EXPECT_FALSE(stdfs::exists(stored(older)));
}

}  // namespace
}  // namespace pgship::test

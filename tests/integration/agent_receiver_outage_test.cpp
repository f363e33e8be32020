// The local backup always happens: whatever the receiver's state (down, full, refusing the
// token, degraded by another client's corrupt backup), `backup` dumps, verifies and commits
// locally, fails loudly when it cannot ship, and a later run ships what waited. Real
// PostgreSQL, real pg_dump, real receiver processes on loopback.

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_fixture.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class AgentReceiverOutage : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    for (const char* db : {"outage_a", "outage_b"}) {
      pg.create_database(db);
      pg.load_sample_data(db, 2000);
    }
  }

  std::string manifest_of(const std::string& dump) const {
    return read_file(backup_dir() / (dump.substr(0, dump.size() - 5) + ".json"));
  }
  std::vector<std::string> stored_for(const std::string& client, const std::string& db) const {
    return files_ending(receiver_->storage_dir() / client / db, ".dump");
  }
};

TEST_F(AgentReceiverOutage, ReceiverDownKeepsTheBackupLocallyAndTheNextRunShipsIt) {
  start();
  const auto port = receiver_->port();
  receiver_->stop();
  const auto down = write_config(
      agent_config("outage_a", {{"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(port)}}),
      "down.env");
  const auto r = run_agent({"backup", "--config", down.string()});
  EXPECT_EQ(r.exit_code, 20) << r.out << r.err;
  EXPECT_NE(r.out.find("cannot connect"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("kept locally and not uploaded"), std::string::npos) << r.err;
  const auto waiting = local_dumps();
  ASSERT_EQ(waiting.size(), 1u) << "dumped, verified and committed while the receiver is down";
  EXPECT_NE(r.out.find("kept locally as " + waiting[0] + ", not uploaded"), std::string::npos)
      << r.out;
  EXPECT_NE(manifest_of(waiting[0]).find("\"status\":\"failed\""), std::string::npos);
  EXPECT_TRUE(partial_files().empty());

  receiver_->restart();
  const auto back = write_config(agent_config("outage_a"), "back.env");
  const auto ok = run_agent({"backup", "--config", back.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.err.find("uploaded earlier backup " + waiting[0]), std::string::npos) << ok.err;
  EXPECT_EQ(stored_dumps("outage_a").size(), 2u) << "the waiting backup shipped too";
  EXPECT_NE(manifest_of(waiting[0]).find("\"status\":\"uploaded\""), std::string::npos);
}

// The value of `sample` ("name{labels}") in Prometheus text; -1 when absent.
double sample_value(const std::string& text, const std::string& sample) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(sample + " ")) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

// A systemd timer's METRICS_TEXTFILE through an outage: BackupTooOld reads the last shipped
// success, which must stay there even after rotation removed that backup locally.
TEST_F(AgentReceiverOutage, TheTextfileKeepsTheLastShippedSuccessThroughAnOutage) {
  start();
  const auto textfile = dir_ / "pgship.prom";
  const std::map<std::string, std::string> timer = {{"METRICS_TEXTFILE", textfile.string()},
                                                    {"KEEP_LOCAL_BACKUPS", "1"}};
  const auto up = write_config(agent_config("outage_a", timer), "up.env");
  ASSERT_EQ(run_agent({"backup", "--config", up.string()}).exit_code, 0);
  const std::string label = "{database=\"outage_a\"}";
  const double shipped =
      sample_value(read_file(textfile), "pgship_backup_last_success_timestamp_seconds" + label);
  ASSERT_GT(shipped, 0);

  const double outage_began =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto port = receiver_->port();
  receiver_->stop();
  auto down_config = agent_config("outage_a", timer);
  down_config["BACKUP_API_URL"] = "http://127.0.0.1:" + std::to_string(port);
  const auto down = write_config(down_config, "down.env");
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(1100ms);  // backup names are per second
    ASSERT_EQ(run_agent({"backup", "--config", down.string()}).exit_code, 20);
  }
  ASSERT_EQ(local_dumps().size(), 2u) << "the shipped one rotated away, the unshipped kept";
  const auto text = read_file(textfile);
  // The shipped run's success (its backup or its run's end), not 0 and not an outage run.
  const double last_success =
      sample_value(text, "pgship_backup_last_success_timestamp_seconds" + label);
  EXPECT_GT(last_success, shipped - 2) << text;  // the history keeps whole seconds
  EXPECT_LT(last_success, outage_began) << text;
  EXPECT_EQ(sample_value(text, "pgship_backup_unshipped" + label), 2) << text;
  EXPECT_GT(sample_value(text, "pgship_backup_last_local_timestamp_seconds" + label), shipped)
      << text;
  EXPECT_EQ(sample_value(text, "pgship_backup_last_status" + label), 0) << text;
}

TEST_F(AgentReceiverOutage, ReceiverFullKeepsTheBackupLocallyAndTheNextRunShipsIt) {
  // The receiver's storage is "full": its free space is below MIN_FREE_BYTES.
  const auto storage = (dir_ / "storage").string();
  start({{"STORAGE_DIR", storage}, {"MIN_FREE_BYTES", "1000000T"}});
  const auto config = write_config(agent_config("outage_a"));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 21) << r.out << r.err;
  EXPECT_NE(r.out.find("MIN_FREE_BYTES"), std::string::npos) << "the receiver's reason: " << r.out;
  const auto waiting = local_dumps();
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_TRUE(stored_dumps("outage_a").empty());

  // Space freed: the same storage under a receiver whose floor it clears.
  receiver_->stop();
  start({{"STORAGE_DIR", storage}});
  const auto again = write_config(agent_config("outage_a"), "again.env");
  const auto ok = run_agent({"backup", "--config", again.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(stored_dumps("outage_a").size(), 2u);
  EXPECT_EQ(local_dumps().size(), 2u);
}

TEST_F(AgentReceiverOutage, AnotherClientsQuarantinedBackupDoesNotStopThisClient) {
  const auto tokens = dir_ / "tokens";
  write_file(tokens,
             "alpha:upload,read:alpha-token-71c2\n"
             "beta:upload:beta-token-0d9e\n"
             "ops:admin:ops-token-5a3f\n");
  start({{"API_TOKENS_FILE", tokens.string()}, {"BACKUP_API_TOKEN", ""}});
  const auto alpha =
      write_config(agent_config("outage_a", {{"BACKUP_API_TOKEN", "alpha-token-71c2"}}), "a.env");
  ASSERT_EQ(run_agent({"backup", "--config", alpha.string()}).exit_code, 0);
  const auto alphas = stored_for("alpha", "outage_a");
  ASSERT_EQ(alphas.size(), 1u);

  // Rot one byte of alpha's stored backup, and let the scrub find it.
  {
    std::fstream f(receiver_->storage_dir() / "alpha" / "outage_a" / alphas[0],
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(2000);
    const char c = static_cast<char>(f.get());
    f.seekp(2000);
    f.put(static_cast<char>(c ^ 0x01));
  }
  const auto scrub =
      http_send(receiver_->port(), {.method = boost::beast::http::verb::post,
                                    .target = "/api/backup/scrub",
                                    .headers = {{"Authorization", "Bearer ops-token-5a3f"}}});
  ASSERT_EQ(scrub.result_int(), 202) << scrub.body();
  ASSERT_TRUE(wait_until(
      [&] { return http_send(receiver_->port(), {.target = "/health"}).result_int() == 503; },
      120s))
      << "the scrub quarantines alpha's backup and /health turns degraded";

  const auto beta = write_config(
      agent_config("outage_b", {{"BACKUP_API_TOKEN", "beta-token-0d9e"}, {"DRILL_SCHEDULE", ""}}),
      "b.env");
  const auto r = run_agent({"backup", "--config", beta.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(stored_for("beta", "outage_b").size(), 1u);
}

TEST_F(AgentReceiverOutage, ADumpThatWouldFillBackupDirIsRefusedBeforeItStarts) {
  start();
  const auto config = write_config(agent_config("outage_a", {{"BACKUP_DIR_MIN_FREE", "1000000T"}}));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 31) << r.out << r.err;
  EXPECT_NE(r.out.find("BACKUP_DIR_MIN_FREE"), std::string::npos) << r.out;
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_TRUE(partial_files().empty());
  EXPECT_TRUE(stored_dumps("outage_a").empty());

  const auto checked = run_agent({"check", "--config", config.string()});
  EXPECT_EQ(checked.exit_code, 43) << checked.out << checked.err;
  EXPECT_NE(checked.out.find("\u2717 BACKUP_DIR has room for a backup of outage_a"),
            std::string::npos)
      << checked.out;
}

TEST_F(AgentReceiverOutage, CheckPassesWithAnUploadOnlyTokenAndNamesItsScopes) {
  const auto tokens = dir_ / "tokens";
  write_file(tokens, "shop:upload:upload-only-8e4b\nshop-reports:read:read-only-2c7a\n");
  start({{"API_TOKENS_FILE", tokens.string()}, {"BACKUP_API_TOKEN", ""}});
  const auto upload_only =
      write_config(agent_config("outage_a", {{"BACKUP_API_TOKEN", "upload-only-8e4b"}}), "u.env");
  const auto ok = run_agent({"check", "--config", upload_only.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("client shop, scopes upload"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("\u2717"), std::string::npos) << ok.out;

  // A read-only token would make every backup fail: that is what check fails on.
  const auto read_only =
      write_config(agent_config("outage_a", {{"BACKUP_API_TOKEN", "read-only-2c7a"}}), "r.env");
  const auto bad = run_agent({"check", "--config", read_only.string()});
  EXPECT_EQ(bad.exit_code, 43) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("scopes read, not upload"), std::string::npos) << bad.out;
}

TEST_F(AgentReceiverOutage, RestoreLatestNeedsDatabaseWhenTheReceiverHoldsSeveral) {
  start();
  const auto config = write_config(agent_config("outage_a,outage_b"));
  ASSERT_EQ(run_agent({"backup", "--config", config.string()}).exit_code, 0);
  const auto r = run_agent(
      {"restore", "--config", config.string(), "--latest", "--target-db", "outage_restored"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  const auto said = r.out + r.err;
  EXPECT_NE(said.find("needs --database"), std::string::npos) << said;
  EXPECT_NE(said.find("outage_a, outage_b"), std::string::npos) << said;
  EXPECT_EQ(pg().query_value("postgres",
                             "SELECT count(*) FROM pg_database WHERE datname = 'outage_restored'"),
            "0")
      << "nothing was created";
}

}  // namespace
}  // namespace pgship::test

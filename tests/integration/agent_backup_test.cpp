// pgship-agent's one-shot commands as an operator runs them: a real PostgreSQL cluster, the
// real pg_dump/pg_restore, a real receiver process on loopback. What is checked is what the
// operator sees: exit codes, messages, files in BACKUP_DIR and on the receiver, restored rows.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <regex>
#include <thread>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <pgship/common/checksum_line.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/time_text.hpp>

#include "agent_fixture.hpp"
#include "fault_proxy.hpp"
#include "free_port.hpp"
#include "http_client.hpp"
#include "listening_process.hpp"
#include "temp_dir.hpp"
#include "terminal_process.hpp"
#include "test_pki.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;

// The value of one metric sample line ("name{labels} value") from the receiver's /metrics.
double metric_value(unsigned short port, std::string_view sample) {
  const auto res = http_send(port, {.target = "/metrics"});
  std::istringstream in(res.body());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(sample) && line.size() > sample.size() && line[sample.size()] == ' ') {
      return std::stod(line.substr(sample.size() + 1));
    }
  }
  return -1;
}

class AgentBackup : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    for (const char* db : {"agent_src", "agent_a", "agent_b"}) {
      pg.create_database(db);
      pg.load_sample_data(db, std::string_view(db) == "agent_src" ? 40000 : 3000);
    }
  }
};

TEST_F(AgentBackup, RoundTripBackupThenRestoreLatestGivesTheSameRows) {
  start();
  const auto config = write_config(agent_config("agent_src"));
  const auto backup = run_agent({"backup", "--config", config.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;

  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u);
  const auto stored = stored_dumps("agent_src");
  ASSERT_EQ(stored, local);
  // The same bytes on both sides, and the checksum file says so in sha256sum -c form.
  const auto local_sha = sha256_hex(backup_dir() / local[0]);
  EXPECT_EQ(sha256_hex(receiver_->storage_dir() / "default" / "agent_src" / stored[0]), local_sha);
  const auto line = parse_checksum_line(read_file(backup_dir() / (local[0] + ".sha256")));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(to_hex(line->digest), local_sha);
  EXPECT_EQ(line->file_name, local[0]);
  const auto manifest =
      read_file(backup_dir() / (local[0].substr(0, local[0].size() - 5) + ".json"));
  EXPECT_NE(manifest.find("\"status\":\"uploaded\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"pg_dump_version\":\"15."), std::string::npos) << manifest;
  EXPECT_NE(manifest.find(local_sha), std::string::npos);
  EXPECT_TRUE(partial_files().empty());

  const auto restore = run_agent({"restore", "--config", config.string(), "--latest", "--database",
                                  "agent_src", "--target-db", "agent_copy", "--create"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_EQ(table_fingerprint("agent_copy"), table_fingerprint("agent_src"));

  // Restoring over a database that now has tables needs --clean.
  const auto again = run_agent(
      {"restore", "--config", config.string(), "--id", local[0], "--target-db", "agent_copy"});
  EXPECT_EQ(again.exit_code, 19) << again.out << again.err;
  EXPECT_NE(again.err.find("is not empty"), std::string::npos) << again.err;
  const auto clean = run_agent({"restore", "--config", config.string(), "--id", local[0],
                                "--target-db", "agent_copy", "--clean"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(table_fingerprint("agent_copy"), table_fingerprint("agent_src"));
  pg().drop_database("agent_copy");

  const auto list = run_agent({"list", "--config", config.string()});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(local[0]), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(local_sha.substr(0, 16)), std::string::npos) << list.out;
}

// DESIGN.md "The manifest travels with the backup": beside the backup on the receiver, served
// to a host that has no BACKUP_DIR, never listed as a backup, deleted with it.
TEST_F(AgentBackup, TheManifestTravelsWithTheBackup) {
  start();
  const auto config = write_config(agent_config("agent_a"));
  const auto backup = run_agent({"backup", "--config", config.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  const auto stored = stored_dumps("agent_a");
  ASSERT_EQ(stored.size(), 1u);
  const auto& id = stored[0];
  const auto dir = receiver_->storage_dir() / "default" / "agent_a";
  EXPECT_TRUE(stdfs::exists(dir / (id + ".manifest.json")));

  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token_}};
  const auto got = http_send(
      receiver_->port(), {.target = "/api/backup/download/" + id + ".manifest", .headers = auth});
  ASSERT_EQ(got.result_int(), 200) << got.body();
  EXPECT_EQ(got["X-Manifest-Name"], id + ".manifest.json");
  EXPECT_EQ(got["Content-Type"], "application/json");
  // The manifest of this very backup: its sha256 is of the bytes the receiver holds.
  boost::system::error_code ec;
  const auto m = boost::json::parse(got.body(), ec);
  ASSERT_FALSE(ec) << got.body();
  EXPECT_EQ(m.at("name").as_string(), id);
  EXPECT_EQ(m.at("sha256").as_string(), sha256_hex(dir / id));
  EXPECT_EQ(m.at("database").as_string(), "agent_a");
  EXPECT_FALSE(m.at("tables").as_array().empty()) << got.body();

  const auto list = http_send(receiver_->port(), {.target = "/api/backup/list", .headers = auth});
  EXPECT_NE(list.body().find(id), std::string::npos) << list.body();
  EXPECT_EQ(list.body().find("manifest"), std::string::npos) << list.body();

  const auto del = http_send(receiver_->port(), {.method = boost::beast::http::verb::delete_,
                                                 .target = "/api/backup/" + id,
                                                 .headers = auth});
  ASSERT_EQ(del.result_int(), 204) << del.body();
  EXPECT_FALSE(stdfs::exists(dir / (id + ".manifest.json")));
  EXPECT_EQ(http_send(receiver_->port(),
                      {.target = "/api/backup/download/" + id + ".manifest", .headers = auth})
                .result_int(),
            404);
}

TEST_F(AgentBackup, TheOldToolsConfigFileBacksUpSeveralDatabasesInOneRun) {
  start();
  // /etc/default/mt5-backup as the bash tool had it: only its keys, its quoting, comments.
  const std::string old_config =
      "# mt5-backup configuration\n"
      "POSTGRES_HOST=" +
      pg().host() +
      "\n"
      "POSTGRES_PORT=" +
      std::to_string(pg().port()) +
      "\n"
      "POSTGRES_DB=agent_a,agent_b\n"
      "POSTGRES_USER=" +
      pg().user() +
      "\n"
      "POSTGRES_PASSWORD='" +
      pg().password() +
      "'\n"
      "BACKUP_DIR=" +
      backup_dir().string() +
      "\n"
      "KEEP_LOCAL_BACKUPS=7\n"
      "BACKUP_API_URL=\"" +
      receiver_->url() +
      "\"\n"
      "BACKUP_API_TOKEN=" +
      token_ +
      "\n"
      "MAX_RETRIES=3\n"
      "RETRY_DELAY=5\n";
  write_file(dir_ / "mt5-backup", old_config);
  const auto r = run_agent({"backup", "--config", (dir_ / "mt5-backup").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(stored_dumps("agent_a").size(), 1u);
  EXPECT_EQ(stored_dumps("agent_b").size(), 1u);
  EXPECT_EQ(local_dumps().size(), 2u);
  EXPECT_NE(r.err.find("backup run succeeded"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(pg().password()), std::string::npos) << "password in the log";
}

TEST_F(AgentBackup, WrongPasswordFailsBeforeDumpingAndNeverShowsThePassword) {
  start();
  const std::string wrong = "not-the-password-91c2";
  const auto config = write_config(agent_config("agent_a", {{"POSTGRES_PASSWORD", wrong}}));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 11) << r.out << r.err;
  EXPECT_NE(r.out.find("password authentication failed"), std::string::npos) << r.out;
  EXPECT_EQ((r.out + r.err).find(wrong), std::string::npos);
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_TRUE(partial_files().empty());
}

TEST_F(AgentBackup, MissingDatabaseIsItsOwnError) {
  start();
  const auto config = write_config(agent_config("no_such_db"));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  EXPECT_NE(r.out.find("does not exist"), std::string::npos) << r.out;
  EXPECT_TRUE(local_dumps().empty());
}

TEST_F(AgentBackup, PgDumpKilledMidDumpFailsTheRunAndKeepsEarlierBackups) {
  start();
  const auto config = write_config(agent_config("agent_src"));
  ASSERT_EQ(run_agent({"backup", "--config", config.string()}).exit_code, 0);
  const auto before = local_dumps();
  ASSERT_EQ(before.size(), 1u);
  const auto before_sha = sha256_hex(backup_dir() / before[0]);

  // A pg_dump that writes a real archive's first 64 KiB and is then killed.
  const auto real = pg().bin_dir() / "pg_dump";
  const auto wrapper = dir_ / "pg_dump";
  write_file(wrapper,
             "#!/bin/sh\n"
             "case \"$1\" in --version) exec '" +
                 real.string() +
                 "' --version;; esac\n"
                 "'" +
                 real.string() +
                 "' \"$@\" | head -c 65536\n"
                 "kill -9 $$\n");
  stdfs::permissions(wrapper, stdfs::perms::owner_all);
  const auto broken =
      write_config(agent_config("agent_src", {{"PG_DUMP_PATH", wrapper.string()}}), "broken.env");
  const auto r = run_agent({"backup", "--config", broken.string()});
  EXPECT_EQ(r.exit_code, 15) << r.out << r.err;
  EXPECT_NE(r.out.find("killed by signal 9"), std::string::npos) << r.out;
  EXPECT_TRUE(partial_files().empty());
  EXPECT_EQ(local_dumps(), before);
  EXPECT_EQ(sha256_hex(backup_dir() / before[0]), before_sha);
  EXPECT_EQ(stored_dumps("agent_src").size(), 1u);
}

TEST_F(AgentBackup, UploadOffNeedsNoReceiver) {
  const auto local_only = write_config(agent_config("agent_a", {{"UPLOAD", "off"}}), "local.env");
  const auto ok = run_agent({"backup", "--config", local_only.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  ASSERT_EQ(local_dumps().size(), 1u);
  EXPECT_NE(ok.out.find("kept locally"), std::string::npos) << ok.out;
}

TEST_F(AgentBackup, APasswordInBackupApiUrlIsNeverShownNorWritten) {
  start();
  const auto port = std::to_string(receiver_->port());
  const std::string secret = "url-secret-5e2b";
  // Every file the agent wrote under BACKUP_DIR (manifests, run logs), searched for `secret`.
  const auto files_with_secret = [&] {
    std::vector<std::string> found;
    for (const auto& e : stdfs::recursive_directory_iterator(backup_dir())) {
      if (e.is_regular_file() && e.path().extension() != ".dump" &&
          read_file(e.path()).find(secret) != std::string::npos) {
        found.push_back(e.path().string());
      }
    }
    return found;
  };
  // The agent sends no Basic auth: the userinfo is carried along, never printed.
  const auto config = write_config(agent_config(
      "agent_a", {{"BACKUP_API_URL", "http://pgship:" + secret + "@127.0.0.1:" + port}}));
  const auto ok = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  ASSERT_EQ(local_dumps().size(), 1u);
  const auto name = local_dumps()[0];
  EXPECT_NE(read_file(backup_dir() / (name.substr(0, name.size() - 5) + ".json"))
                .find("http://pgship:<redacted>@127.0.0.1:" + port),
            std::string::npos)
      << "the manifest records the receiver, redacted";

  const auto shown = run_agent({"backup", "--print-config", "--config", config.string()});
  EXPECT_NE(shown.out.find("BACKUP_API_URL=http://pgship:<redacted>@127.0.0.1:" + port),
            std::string::npos)
      << shown.out;

  receiver_->stop();
  const auto down = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(down.exit_code, 20) << down.out << down.err;
  EXPECT_NE(down.out.find("cannot connect"), std::string::npos) << down.out;
  for (const auto* r : {&ok, &shown, &down}) {
    EXPECT_EQ(r->out.find(secret), std::string::npos) << r->out;
    EXPECT_EQ(r->err.find(secret), std::string::npos) << r->err;
  }
  EXPECT_EQ(files_with_secret(), std::vector<std::string>{});
}

TEST_F(AgentBackup, RejectedTokenFailsTheUploadAndKeepsTheLocalBackup) {
  start();
  const auto config = write_config(agent_config("agent_a", {{"BACKUP_API_TOKEN", "wrong-token"}}));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 22) << r.out << r.err;
  EXPECT_NE(r.out.find("HTTP 401"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("retry"), std::string::npos) << "a 401 is not retried: " << r.err;
  ASSERT_EQ(local_dumps().size(), 1u);
  const auto name = local_dumps()[0];
  EXPECT_NE(read_file(backup_dir() / (name.substr(0, name.size() - 5) + ".json"))
                .find("\"status\":\"failed\""),
            std::string::npos);
  EXPECT_TRUE(stored_dumps("agent_a").empty());
}

TEST_F(AgentBackup, ReceiverOutOfQuotaIs507AndNotRetried) {
  start({{"QUOTA_BYTES", "1K"}});
  const auto config = write_config(agent_config("agent_a"));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 23) << r.out << r.err;
  EXPECT_NE(r.out.find("HTTP 507"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("retry 1"), std::string::npos) << r.err;
  EXPECT_TRUE(stored_dumps("agent_a").empty());
}

// Issue 30: restore --at and list --at take the newest dump taken at or before the time:
// exactly at a backup's time that one, between two the older, before the first a clear error.
TEST_F(AgentBackup, RestoreAtTakesTheNewestDumpTakenAtOrBeforeTheTime) {
  start();
  pg().create_database("agent_at");
  pg().execute("agent_at", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  const auto config = write_config(agent_config("agent_at", {{"KEEP_LOCAL_BACKUPS", "5"}}));
  ASSERT_EQ(run_agent({"backup", "--config", config.string()}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // names are stamped to the second
  pg().execute("agent_at", "INSERT INTO t VALUES (2)");
  ASSERT_EQ(run_agent({"backup", "--config", config.string()}).exit_code, 0);
  auto names = local_dumps();
  ASSERT_EQ(names.size(), 2u);
  std::sort(names.begin(), names.end());
  // agent_at-YYYYMMDD-HHMMSS.dump: the UTC time it was taken.
  const auto taken = [](const std::string& name, int plus_seconds) {
    const auto stamp = name.substr(std::string("agent_at-").size(), 15);
    std::tm tm{};
    tm.tm_year = std::stoi(stamp.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(stamp.substr(4, 2)) - 1;
    tm.tm_mday = std::stoi(stamp.substr(6, 2));
    tm.tm_hour = std::stoi(stamp.substr(9, 2));
    tm.tm_min = std::stoi(stamp.substr(11, 2));
    tm.tm_sec = std::stoi(stamp.substr(13, 2)) + plus_seconds;
    const std::time_t t = ::timegm(&tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return std::string(text);
  };
  const auto list_at = [&](const std::string& at) {
    return run_agent({"list", "--config", config.string(), "--at", at});
  };
  const auto exactly = list_at(taken(names[0], 0));
  ASSERT_EQ(exactly.exit_code, 0) << exactly.err;
  EXPECT_NE(exactly.out.find(names[0]), std::string::npos) << exactly.out;
  EXPECT_EQ(exactly.out.find(names[1]), std::string::npos) << exactly.out;
  const auto later = list_at(taken(names[1], 0));
  EXPECT_NE(later.out.find(names[1]), std::string::npos) << later.out;
  const auto before = list_at(taken(names[0], -1));
  EXPECT_NE(before.out.find("its oldest dump is newer"), std::string::npos) << before.out;

  // Between the two: the older one, with its one row.
  const auto between =
      run_agent({"restore", "--config", config.string(), "--at", taken(names[1], -1), "--database",
                 "agent_at", "--target-db", "agent_at_copy", "--create"});
  ASSERT_EQ(between.exit_code, 0) << between.out << between.err;
  EXPECT_NE(between.out.find("restored " + names[0]), std::string::npos) << between.out;
  EXPECT_EQ(pg().query_value("agent_at_copy", "SELECT count(*) FROM t"), "1");
  pg().drop_database("agent_at_copy");

  // Before the first: refused, naming the oldest; nothing created.
  const auto early = run_agent({"restore", "--config", config.string(), "--at", taken(names[0], -1),
                                "--target-db", "agent_at_copy", "--create"});
  EXPECT_EQ(early.exit_code, 19) << early.out << early.err;  // restore_failed
  EXPECT_NE(early.err.find("the oldest is " + names[0]), std::string::npos) << early.err;
  EXPECT_EQ(pg().query_value("postgres",
                             "SELECT count(*) FROM pg_database WHERE datname = "
                             "'agent_at_copy'"),
            "0");
  const auto vague = run_agent(
      {"restore", "--config", config.string(), "--at", "tuesday", "--target-db", "agent_at_copy"});
  EXPECT_EQ(vague.exit_code, 2) << vague.out << vague.err;
  EXPECT_NE(vague.err.find("YYYY-MM-DD HH:MM[:SS] in TZ"), std::string::npos) << vague.err;
  pg().drop_database("agent_at");
}

// HEALTHCHECK_PING_URL (issue 30): /start then success, or /fail for a run that failed, with
// the same ?rid= and the run log's tail; {db} makes one check per database. A ping service
// that is down fails no run. The stand-in server records what it was sent.
TEST_F(AgentBackup, HealthcheckPingsPairStartAndEndByRunId) {
  start();
  const auto recorded = dir_.path() / "pings.jsonl";
  const auto server = start_listening_process(
      std::string(PGSHIP_SOURCE_DIR) + "/tests/support/recording_http_server.py",
      {recorded.string()}, {}, dir_.path() / "pings.log");
  // Stopped however the test ends (an ASSERT returns early).
  struct stopper {
    int pid;
    ~stopper() { stop_process(pid, SIGTERM, std::chrono::seconds(5)); }
  } stop_server{server.pid};
  const auto base = "http://127.0.0.1:" + std::to_string(server.port) + "/ping/";
  const auto pings = [&] {
    std::vector<boost::json::object> out;
    std::ifstream in(recorded);
    for (std::string line; std::getline(in, line);)
      out.push_back(boost::json::parse(line).as_object());
    std::filesystem::remove(recorded);
    return out;
  };
  const auto target = [](const boost::json::object& p) {
    return std::string(p.at("target").as_string());
  };

  const auto ok =
      run_agent({"backup", "--config",
                 write_config(agent_config("agent_a", {{"HEALTHCHECK_PING_URL", base + "uuid-1"}}))
                     .string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto got = pings();
  ASSERT_EQ(got.size(), 2u);
  const auto rid = target(got[0]).substr(target(got[0]).find("?rid=") + 5);
  EXPECT_EQ(target(got[0]), "/ping/uuid-1/start?rid=" + rid);
  EXPECT_EQ(target(got[1]), "/ping/uuid-1?rid=" + rid) << "success, the same run";
  EXPECT_NE(std::string(got[1].at("body").as_string()).find("backup run succeeded"),
            std::string::npos)
      << "the run log's tail";
  EXPECT_EQ(ok.err.find("uuid-1"), std::string::npos) << "the URL is a secret";

  // A wrong password: /start, then /fail with the same rid and PostgreSQL's words in the body.
  const auto wrong =
      run_agent({"backup", "--config",
                 write_config(agent_config("agent_a", {{"HEALTHCHECK_PING_URL", base + "uuid-1"},
                                                       {"POSTGRES_PASSWORD", "not-the-password"}}))
                     .string()});
  EXPECT_NE(wrong.exit_code, 0);
  got = pings();
  ASSERT_EQ(got.size(), 2u);
  const auto wrong_rid = target(got[0]).substr(target(got[0]).find("?rid=") + 5);
  EXPECT_NE(wrong_rid, rid);
  EXPECT_EQ(target(got[0]), "/ping/uuid-1/start?rid=" + wrong_rid);
  EXPECT_EQ(target(got[1]), "/ping/uuid-1/fail?rid=" + wrong_rid);
  EXPECT_NE(std::string(got[1].at("body").as_string()).find("password authentication failed"),
            std::string::npos)
      << got[1].at("body");

  // {db}: a database that fails reports /fail on its own check, the other success.
  write_file(dir_.path() / "ping-url", base + "backup-{db}\n");
  const auto per_db = write_config(agent_config(
      "agent_a,no_such_db", {{"HEALTHCHECK_PING_URL_FILE", (dir_.path() / "ping-url").string()}}));
  const auto failed = run_agent({"backup", "--config", per_db.string()});
  EXPECT_NE(failed.exit_code, 0);
  got = pings();
  std::vector<std::string> targets;
  for (const auto& p : got) {
    const auto t = target(p);
    targets.push_back(t.substr(0, t.find("?rid=")));
  }
  EXPECT_EQ(targets,
            (std::vector<std::string>{"/ping/backup-agent_a/start", "/ping/backup-no_such_db/start",
                                      "/ping/backup-agent_a", "/ping/backup-no_such_db/fail"}))
      << failed.out << failed.err;

  // A ping service that answers 500 (and then one that is gone) fails no backup.
  const auto broken = run_agent(
      {"backup", "--config",
       write_config(agent_config("agent_a", {{"HEALTHCHECK_PING_URL", base + "status-500"}}))
           .string()});
  EXPECT_EQ(broken.exit_code, 0) << broken.out << broken.err;
  EXPECT_NE(broken.err.find("the healthcheck ping failed"), std::string::npos) << broken.err;
  stop_process(server.pid, SIGTERM, std::chrono::seconds(5));
  stop_server.pid = -1;
  const auto gone =
      run_agent({"backup", "--config",
                 write_config(agent_config("agent_a", {{"HEALTHCHECK_PING_URL", base + "uuid-1"}}))
                     .string()});
  EXPECT_EQ(gone.exit_code, 0) << gone.out << gone.err;

  const auto typo = run_agent(
      {"backup", "--config",
       write_config(agent_config("agent_a", {{"HEALTHCHECK_PING_URL", "hc-ping.com/uuid"}}))
           .string()});
  EXPECT_EQ(typo.exit_code, 2) << "a URL that cannot work stops start-up";
  EXPECT_EQ(typo.err.find("hc-ping.com/uuid"), std::string::npos) << typo.err;
}

// The JSON lines a recording_http_server.py wrote, taken (the file is emptied).
std::vector<boost::json::object> take_recorded(const stdfs::path& file) {
  std::vector<boost::json::object> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    out.push_back(boost::json::parse(line).as_object());
  in.close();
  stdfs::remove(file);
  return out;
}

std::string text_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

TEST_F(AgentBackup, WebhooksCarryTheOutcomeSignedAndAreKeptAndRetriedWhileTheServiceIsDown) {
  start();
  const auto recorded = dir_.path() / "hooks.jsonl";
  const auto server = start_listening_process(
      std::string(PGSHIP_SOURCE_DIR) + "/tests/support/recording_http_server.py",
      {recorded.string()}, {}, dir_.path() / "hooks.log");
  struct stopper {
    int pid;
    ~stopper() {
      if (pid > 0) stop_process(pid, SIGTERM, std::chrono::seconds(5));
    }
  } stop_server{server.pid};
  const auto base = "http://127.0.0.1:" + std::to_string(server.port);
  const std::string secret = "webhook-key-7f3a";
  write_file(dir_.path() / "webhook-secret", secret + "\n");
  const auto hooked = [&](const std::string& url, std::map<std::string, std::string> more = {}) {
    more["WEBHOOK_URL"] = url;
    more["WEBHOOK_EVENTS"] = "backup.*";
    more["WEBHOOK_SECRET_FILE"] = (dir_.path() / "webhook-secret").string();
    return write_config(agent_config("agent_a", more)).string();
  };
  // The signature as openssl computes it: HMAC-SHA256 of the body under the secret.
  const auto openssl_hmac = [&](const std::string& body) {
    const auto r =
        run_process({"openssl", "dgst", "-sha256", "-hmac", secret, "-r"}, {.stdin_data = body});
    return "sha256=" + r.out.substr(0, 64);
  };

  const auto ok = run_agent({"backup", "--config", hooked(base + "/hooks/pgship")});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto got = take_recorded(recorded);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(text_at(got[0], "target"), "/hooks/pgship");
  const auto body = text_at(got[0], "body");
  const auto event = boost::json::parse(body).as_object();
  EXPECT_EQ(text_at(event, "schema"), "pgship.event.v1");
  EXPECT_EQ(text_at(event, "event"), "backup.succeeded");
  EXPECT_EQ(text_at(event, "database"), "agent_a");
  EXPECT_EQ(text_at(event, "result"), "ok");
  EXPECT_EQ(text_at(event, "backup"), local_dumps().back());
  EXPECT_EQ(event.at("size_bytes").to_number<std::uint64_t>(),
            stdfs::file_size(backup_dir() / local_dumps().back()));
  const auto& headers = got[0].at("headers").as_object();
  EXPECT_EQ(text_at(headers, "X-Pgship-Signature"), openssl_hmac(body)) << "the HMAC verifies";
  EXPECT_EQ(text_at(headers, "X-Pgship-Event"), "backup.succeeded");
  EXPECT_EQ(ok.err.find(secret), std::string::npos);

  // A failed backup: its error code and PostgreSQL's words.
  const auto wrong =
      run_agent({"backup", "--config",
                 hooked(base + "/hooks/pgship", {{"POSTGRES_PASSWORD", "not-the-password"}})});
  ASSERT_NE(wrong.exit_code, 0);
  got = take_recorded(recorded);
  ASSERT_EQ(got.size(), 1u);
  const auto failed = boost::json::parse(text_at(got[0], "body")).as_object();
  EXPECT_EQ(text_at(failed, "event"), "backup.failed");
  EXPECT_EQ(text_at(failed, "result"), "failed");
  EXPECT_EQ(failed.at("error").at("exit_code").to_number<int>(), wrong.exit_code);
  EXPECT_EQ(failed.at("error").at("code").as_string(), "database_auth_failed");
  EXPECT_NE(std::string(failed.at("error").at("message").as_string()).find("password"),
            std::string::npos);

  // A service that answers 503: tried again (with backoff) until the command's bounded wait
  // ends; the backup itself is done and exits 0, the event stays in the spool.
  const auto spool = backup_dir() / ".webhooks";
  const auto before = std::chrono::steady_clock::now();
  const auto busy = run_agent({"backup", "--config", hooked(base + "/hooks/status-503")});
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_EQ(busy.exit_code, 0) << busy.out << busy.err;
  EXPECT_NE(busy.err.find("kept for the next run"), std::string::npos) << busy.err;
  got = take_recorded(recorded);
  ASSERT_GE(got.size(), 2u) << "retried";
  EXPECT_EQ(text_at(got[0], "body"), text_at(got.back(), "body")) << "the same event each time";
  const auto kept_id =
      std::string(boost::json::parse(text_at(got[0], "body")).at("id").as_string());
  EXPECT_EQ(files_ending(spool, ".json").size(), 1u);
  EXPECT_LT(took, std::chrono::seconds(120)) << "a bounded wait, not a retry schedule";

  // A service that is not there at all: the same, and the run is not failed by it.
  const auto gone = run_agent(
      {"backup", "--config", hooked("http://127.0.0.1:" + std::to_string(free_port()) + "/x")});
  EXPECT_EQ(gone.exit_code, 0) << gone.out << gone.err;
  EXPECT_EQ(files_ending(spool, ".json").size(), 2u);

  // Back: the next run delivers what was kept first, oldest first, then its own.
  const auto back = run_agent({"backup", "--config", hooked(base + "/hooks/pgship")});
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  got = take_recorded(recorded);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(std::string(boost::json::parse(text_at(got[0], "body")).at("id").as_string()), kept_id);
  for (const auto& g : got) {
    EXPECT_EQ(text_at(g.at("headers").as_object(), "X-Pgship-Signature"),
              openssl_hmac(text_at(g, "body")));
  }
  EXPECT_TRUE(files_ending(spool, ".json").empty());

  // A typo in WEBHOOK_EVENTS stops start-up.
  const auto typo =
      run_agent({"backup", "--config",
                 write_config(agent_config("agent_a", {{"WEBHOOK_URL", base},
                                                       {"WEBHOOK_EVENTS", "backup.faild"}}))
                     .string()});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("backup.faild"), std::string::npos) << typo.err;
}

TEST_F(AgentBackup, AFailedBackupFiresARealAlertmanagerAlertThatTheNextSuccessResolves) {
  start();
  const auto am_port = free_port();
  write_file(dir_.path() / "alertmanager.yml",
             "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n");
  const pid_t am = ::fork();
  if (am == 0) {
    const int log = ::open((dir_.path() / "alertmanager.log").c_str(), O_WRONLY | O_CREAT, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    const std::string config = "--config.file=" + (dir_.path() / "alertmanager.yml").string();
    const std::string storage = "--storage.path=" + (dir_.path() / "alertmanager-data").string();
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(am_port);
    ::execlp("prometheus-alertmanager", "prometheus-alertmanager", config.c_str(), storage.c_str(),
             listen.c_str(), "--cluster.listen-address=", nullptr);
    ::_exit(127);
  }
  struct stopper {
    int pid;
    ~stopper() { stop_process(pid, SIGTERM, std::chrono::seconds(5)); }
  } stop_am{am};
  const auto get = [&](const std::string& target) {
    try {
      return http_send(am_port, {.target = target});
    } catch (const std::exception&) {
      return http_response{};
    }
  };
  ASSERT_TRUE(
      wait_until([&] { return get("/-/ready").result_int() == 200; }, std::chrono::seconds(60)))
      << read_file(dir_.path() / "alertmanager.log");
  const auto alerts = [&] {
    std::vector<boost::json::object> out;
    const auto all = boost::json::parse(get("/api/v2/alerts").body());
    for (const auto& a : all.as_array()) {
      const auto& o = a.as_object();
      if (o.at("labels").at("alertname") == "PgshipBackupFailed") out.push_back(o);
    }
    return out;
  };
  const auto config = [&](std::map<std::string, std::string> more) {
    more["WEBHOOK_URL"] = "http://127.0.0.1:" + std::to_string(am_port);
    more["WEBHOOK_FORMAT"] = "alertmanager";
    return write_config(agent_config("agent_a", more)).string();
  };

  const auto wrong =
      run_agent({"backup", "--config", config({{"POSTGRES_PASSWORD", "not-the-password"}})});
  ASSERT_NE(wrong.exit_code, 0);
  auto firing = alerts();
  ASSERT_EQ(firing.size(), 1u) << get("/api/v2/alerts").body() << wrong.err;
  EXPECT_EQ(firing[0].at("labels").at("database"), "agent_a");
  EXPECT_EQ(firing[0].at("status").at("state"), "active");
  const auto ends = parse_utc(std::string(firing[0].at("endsAt").as_string()));
  ASSERT_TRUE(ends);
  EXPECT_GT(*ends, std::chrono::system_clock::now() + std::chrono::hours(24 * 6))
      << "keeps firing until a success, not until a timeout";
  EXPECT_NE(std::string(firing[0].at("annotations").at("summary").as_string())
                .find("database_auth_failed"),
            std::string::npos);

  const auto ok = run_agent({"backup", "--config", config({})});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(alerts().empty()) << "resolved by the success: " << get("/api/v2/alerts").body();
}

TEST_F(AgentBackup, RotationKeepsTheNewestNLocally) {
  start();
  const auto good = write_config(agent_config("agent_a", {{"KEEP_LOCAL_BACKUPS", "2"}}));
  for (int i = 0; i < 3; ++i) {
    const auto r = run_agent({"backup", "--config", good.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  EXPECT_EQ(local_dumps().size(), 2u);
  EXPECT_EQ(stored_dumps("agent_a").size(), 3u);
}

TEST_F(AgentBackup, BackupsWhoseUploadFailedStayUntilALaterRunShipsThem) {
  start();
  const auto good = write_config(agent_config("agent_a", {{"KEEP_LOCAL_BACKUPS", "1"}}));
  const auto refused = write_config(
      agent_config("agent_a", {{"KEEP_LOCAL_BACKUPS", "1"}, {"BACKUP_API_TOKEN", "wrong"}}),
      "refused.env");
  ASSERT_EQ(run_agent({"backup", "--config", good.string()}).exit_code, 0);
  const auto shipped = local_dumps();
  ASSERT_EQ(shipped.size(), 1u);

  // Two runs whose upload is refused: each rotates, but only what the receiver has.
  EXPECT_EQ(run_agent({"backup", "--config", refused.string()}).exit_code, 22);
  EXPECT_EQ(run_agent({"backup", "--config", refused.string()}).exit_code, 22);
  auto now = local_dumps();
  ASSERT_EQ(now.size(), 2u) << "the two never uploaded, and nothing else";
  EXPECT_EQ(std::count(now.begin(), now.end(), shipped[0]), 0) << "the shipped one rotated";
  const auto waiting = now;

  // The next good run ships both, then rotation keeps only the newest.
  const auto r = run_agent({"backup", "--config", good.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& name : waiting)
    EXPECT_NE(r.err.find("uploaded earlier backup " + name), std::string::npos) << r.err;
  EXPECT_EQ(stored_dumps("agent_a").size(), 4u);
  // Those shipped late carry their manifests too.
  for (const auto& name : stored_dumps("agent_a")) {
    EXPECT_TRUE(
        stdfs::exists(receiver_->storage_dir() / "default" / "agent_a" / (name + ".manifest.json")))
        << name;
  }
  now = local_dumps();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(std::count(waiting.begin(), waiting.end(), now[0]), 0);
}

// The ETAs (in seconds) of the status lines the terminal showed for `stage`: each update is
// the text between one carriage return or newline and the next.
std::vector<int> etas_shown(const std::string& screen, const std::string& stage) {
  std::vector<int> out;
  const std::regex eta(": " + stage + R"( .*ETA (?:(\d+):)?(\d+):(\d\d))");
  std::size_t begin = 0;
  while (begin < screen.size()) {
    const auto end = std::min(screen.find_first_of("\r\n", begin), screen.size());
    const std::string piece = screen.substr(begin, end - begin);
    std::smatch m;
    if (std::regex_search(piece, m, eta)) {
      const int hours = m[1].matched ? std::stoi(m[1]) : 0;
      out.push_back(hours * 3600 + std::stoi(m[2]) * 60 + std::stoi(m[3]));
    }
    begin = end + 1;
  }
  return out;
}

// Whether `etas` fall: at least three, ending lower than they began, and never climbing back
// above where they began (a rate measured over ten seconds wobbles a little, never a lot).
::testing::AssertionResult falls(const std::vector<int>& etas) {
  std::string all;
  for (const int e : etas)
    all += std::to_string(e) + " ";
  if (etas.size() < 3) return ::testing::AssertionFailure() << "fewer than 3 ETAs: " << all;
  if (etas.back() >= etas.front()) return ::testing::AssertionFailure() << "not falling: " << all;
  for (const int e : etas) {
    if (e > etas.front()) return ::testing::AssertionFailure() << "climbing: " << all;
  }
  return ::testing::AssertionSuccess() << all;
}

TEST_F(AgentBackup, ProgressShowsAFallingEtaOnATerminalAsJsonOnRequestAndNothingElsewhere) {
  start();
  // The link, not the machine, sets the pace: UPLOAD_RATE_LIMIT for the backup, a proxy that
  // carries 512 KiB/s towards the agent for the restores.
  const auto backup_cfg = write_config(
      agent_config("agent_src", {{"UPLOAD_RATE_LIMIT", "512K"}, {"UPLOAD_CHUNK_SIZE", "64K"}}));
  const auto backup = run_in_terminal(agent_argv({"backup", "--config", backup_cfg.string()}),
                                      {.timeout = std::chrono::seconds(300)});
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u);
  const auto size = stdfs::file_size(backup_dir() / local[0]);
  ASSERT_GT(size, 5u * 512 * 1024) << "the upload must take several seconds";
  EXPECT_TRUE(falls(etas_shown(backup.out, "upload"))) << backup.out;
  EXPECT_NE(backup.out.find("backup agent_src: upload "), std::string::npos) << backup.out;

  fault_proxy proxy(receiver_->port());
  proxy.throttle_to_client(512 * 1024);
  const auto via_proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  const auto restore_cfg =
      write_config(agent_config("agent_src", {{"BACKUP_API_URL", via_proxy}}), "slow.env");
  const auto restore = run_in_terminal(
      agent_argv({"restore", "--latest", "--database", "agent_src", "--target-db",
                  "agent_progress_tty", "--create", "--config", restore_cfg.string()}),
      {.timeout = std::chrono::seconds(300)});
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  EXPECT_TRUE(falls(etas_shown(restore.out, "download"))) << restore.out;
  EXPECT_NE(restore.out.find("restored " + local[0]), std::string::npos) << restore.out;

  // Not a terminal: nothing by default, one JSON object per line with --progress=json.
  const auto plain =
      run_agent({"restore", "--latest", "--database", "agent_src", "--target-db",
                 "agent_progress_plain", "--create", "--config", restore_cfg.string()});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("ETA"), std::string::npos) << plain.err;
  EXPECT_EQ(plain.err.find("\"stage\""), std::string::npos) << plain.err;
  const auto json = run_agent({"restore", "--latest", "--database", "agent_src", "--target-db",
                               "agent_progress_json", "--create", "--progress=json", "--config",
                               restore_cfg.string()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::vector<boost::json::object> lines;
  std::istringstream in(json.err);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("{\"command\"")) continue;  // log lines are text
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    lines.push_back(v.as_object());
  }
  ASSERT_GE(lines.size(), 3u) << json.err;
  std::optional<double> first_eta;
  for (const auto& o : lines) {
    EXPECT_EQ(o.at("command"), "restore");
    EXPECT_EQ(o.at("database"), "agent_src");
    if (o.at("stage") != "download") continue;
    EXPECT_EQ(o.at("total").to_number<std::uint64_t>(), size) << "the stored size";
    EXPECT_LE(o.at("bytes").to_number<std::uint64_t>(), size);
    if (o.contains("eta_seconds") && !first_eta)
      first_eta = o.at("eta_seconds").to_number<double>();
  }
  ASSERT_TRUE(first_eta) << json.err;
  EXPECT_EQ(json.err.find("\r"), std::string::npos) << "no terminal control for scripts";
  EXPECT_EQ(pg().query_value("agent_progress_json", "SELECT count(*) FROM trades"),
            pg().query_value("agent_src", "SELECT count(*) FROM trades"));
}

TEST_F(AgentBackup, AStageWithoutProgressForAMinuteIsLoggedAndKeptInTheRunsRecord) {
  start();
  // pg_dump waits for a table another session holds exclusively: no byte for over a minute.
  std::thread holder([this] {
    pg().execute("agent_b",
                 "BEGIN; LOCK TABLE trades IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(70); COMMIT");
  });
  struct joiner {
    std::thread& t;
    ~joiner() { t.join(); }
  } join_holder{holder};
  ASSERT_TRUE(wait_until(
      [&] {
        return pg().query_value("agent_b",
                                "SELECT count(*) FROM pg_locks WHERE granted AND mode = "
                                "'AccessExclusiveLock' AND relation = 'trades'::regclass") == "1";
      },
      std::chrono::seconds(30)));
  const auto r = run_agent({"backup", "--config", write_config(agent_config("agent_b")).string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Looked at once a second: said between 60 and 70 s after the last byte.
  EXPECT_TRUE(
      std::regex_search(r.err, std::regex("dump of agent_b has made no progress for 6\\d s")))
      << r.err;
  std::string last;
  std::ifstream in(backup_dir() / "runs.jsonl");
  for (std::string line; std::getline(in, line);)
    last = line;
  const auto record = boost::json::parse(last).as_object();
  ASSERT_TRUE(record.contains("stalls")) << last;
  const auto& stall = record.at("stalls").as_array().at(0).as_object();
  EXPECT_EQ(stall.at("database").as_string(), "agent_b");
  EXPECT_EQ(stall.at("stage").as_string(), "dump");
  EXPECT_GE(stall.at("seconds").to_number<double>(), 60.0);
}

TEST_F(AgentBackup, CutConnectionsCostAtMostOneChunkEach) {
  start();
  fault_proxy proxy(receiver_->port());
  constexpr std::uint64_t chunk = 64 * 1024;
  constexpr int cuts = 3;
  proxy.cut_after(200 * 1024, cuts);
  // Everything goes through the proxy, the health check too: its connection is kept alive
  // and carries the upload, and is the first to be cut.
  const auto config = write_config(agent_config(
      "agent_src", {{"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(proxy.port())},
                    {"UPLOAD_CHUNK_SIZE", std::to_string(chunk)},
                    {"MAX_RETRIES", "10"}}));
  const auto r = run_agent({"backup", "--config", config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GE(proxy.connections_cut(), 1);
  std::smatch counts;
  ASSERT_TRUE(std::regex_search(r.out, counts, std::regex(R"(\((\d+) retries, (\d+) resumes\))")))
      << r.out;
  EXPECT_GE(std::stoi(counts[1]), 1) << r.out;
  EXPECT_GE(std::stoi(counts[2]), 1) << "continued from the receiver's offset: " << r.out;
  const auto local = local_dumps();
  ASSERT_EQ(local.size(), 1u);
  const auto size = stdfs::file_size(backup_dir() / local[0]);
  ASSERT_GT(size, 4 * chunk) << "the dump must span several chunks";
  EXPECT_EQ(sha256_hex(receiver_->storage_dir() / "default" / "agent_src" / local[0]),
            sha256_hex(backup_dir() / local[0]));
  // Every byte the receiver took in beyond the file itself was a re-sent part of a cut chunk.
  const double received =
      metric_value(receiver_->port(), "pgship_receiver_bytes_received_total{client=\"default\"}");
  EXPECT_GE(received, static_cast<double>(size));
  EXPECT_LE(received, static_cast<double>(size + proxy.connections_cut() * chunk))
      << "cuts: " << proxy.connections_cut();
}

TEST_F(AgentBackup, AnUploadCutInOneRunGoesOnInTheNextFromWhereItStopped) {
  start();
  fault_proxy proxy(receiver_->port());
  constexpr std::uint64_t chunk = 64 * 1024;
  // Two cuts: one stops the upload that runs during the dump, the other the upload that
  // continues it after the dump, which is not retried.
  proxy.cut_after(300 * 1024, 2);
  const auto config = write_config(agent_config(
      "agent_src", {{"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(proxy.port())},
                    {"UPLOAD_CHUNK_SIZE", std::to_string(chunk)},
                    {"MAX_RETRIES", "0"}}));
  // The first run's upload is cut and not retried: the manifest keeps where it stands.
  const auto first = run_agent({"backup", "--config", config.string()});
  ASSERT_NE(first.exit_code, 0) << first.out << first.err;
  ASSERT_EQ(local_dumps().size(), 1u);
  const auto cut = local_dumps()[0];
  const auto size = stdfs::file_size(backup_dir() / cut);
  ASSERT_GT(size, 8 * chunk) << "the dump must span several chunks";
  const auto manifest = read_file(backup_dir() / (cut.substr(0, cut.size() - 5) + ".json"));
  EXPECT_NE(manifest.find("\"status\":\"failed\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"resume_at\":\"/api/backup/uploads/"), std::string::npos) << manifest;

  // The next run ships its own backup, then continues the cut one at the receiver's offset
  // instead of sending it again from the start.
  const double before =
      metric_value(receiver_->port(), "pgship_receiver_bytes_received_total{client=\"default\"}");
  ASSERT_GT(before, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new backup name
  const auto second = run_agent({"backup", "--config", config.string()});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.err.find("resuming the upload at offset"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("uploaded earlier backup " + cut), std::string::npos) << second.err;
  EXPECT_EQ(sha256_hex(receiver_->storage_dir() / "default" / "agent_src" / cut),
            sha256_hex(backup_dir() / cut));
  const auto newest = local_dumps().back();
  ASSERT_NE(newest, cut);
  const double after =
      metric_value(receiver_->port(), "pgship_receiver_bytes_received_total{client=\"default\"}");
  // The new backup whole, the cut one only from where it stopped (from the start it would be
  // both files whole).
  EXPECT_LT(after - before, static_cast<double>(stdfs::file_size(backup_dir() / newest) + size))
      << "before " << before;
  EXPECT_EQ(read_file(backup_dir() / (cut.substr(0, cut.size() - 5) + ".json")).find("resume_at"),
            std::string::npos);
}

TEST_F(AgentBackup, ACommitThatFailsOnTheReceiverIsNeverTakenForAnUpload) {
  start();
  // The receiver cannot create the database's directory: every byte arrives, the commit fails
  // (500), and a HEAD then reports the full offset. Only a commit answered 2xx counts.
  stdfs::create_directories(receiver_->storage_dir() / "default");
  write_file(receiver_->storage_dir() / "default" / "agent_b", "not a directory");
  const auto config = write_config(agent_config("agent_b", {{"MAX_RETRIES", "2"}}));
  const auto r = run_agent({"backup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 24) << r.out << r.err;
  EXPECT_NE(r.out.find("after 2 retries"), std::string::npos) << r.out;
  ASSERT_EQ(local_dumps().size(), 1u);
  const auto name = local_dumps()[0];
  EXPECT_NE(read_file(backup_dir() / (name.substr(0, name.size() - 5) + ".json"))
                .find("\"status\":\"failed\""),
            std::string::npos);
}

TEST_F(AgentBackup, HttpsVerifiesTheReceiverAndPresentsAClientCertificate) {
  test_pki pki(dir_.path());
  start({{"TLS_CERT_FILE", pki.path("server.crt")},
         {"TLS_KEY_FILE", pki.path("server.key")},
         {"TLS_CLIENT_CA_FILE", pki.path("ca.crt")}});
  const std::string https = "https://127.0.0.1:" + std::to_string(receiver_->port());
  const auto good =
      write_config(agent_config("agent_a", {{"BACKUP_API_URL", https},
                                            {"CA_FILE", pki.path("ca.crt")},
                                            {"CLIENT_CERT_FILE", pki.path("client.crt")},
                                            {"CLIENT_KEY_FILE", pki.path("client.key")}}));
  const auto ok = run_agent({"backup", "--config", good.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(stored_dumps("agent_a").size(), 1u);

  // The system store does not know the test CA: refused, and not retried.
  const auto untrusted =
      write_config(agent_config("agent_a", {{"BACKUP_API_URL", https},
                                            {"CLIENT_CERT_FILE", pki.path("client.crt")},
                                            {"CLIENT_KEY_FILE", pki.path("client.key")}}),
                   "untrusted.env");
  const auto refused = run_agent({"backup", "--config", untrusted.string()});
  EXPECT_EQ(refused.exit_code, 26) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("certificate verify failed"), std::string::npos) << refused.out;

  // Without a client certificate the receiver ends the handshake.
  const auto anonymous = write_config(
      agent_config("agent_a", {{"BACKUP_API_URL", https}, {"CA_FILE", pki.path("ca.crt")}}),
      "anonymous.env");
  const auto no_cert = run_agent({"backup", "--config", anonymous.string()});
  EXPECT_NE(no_cert.exit_code, 0) << no_cert.out << no_cert.err;
  EXPECT_EQ(stored_dumps("agent_a").size(), 1u);
}

TEST_F(AgentBackup, CheckListsEveryItemAndFailsOnTheBadOnes) {
  start();
  const auto good = write_config(agent_config("agent_a"));
  const auto ok = run_agent({"check", "--config", good.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("\u2713 PostgreSQL database agent_a"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\u2713 receiver accepts BACKUP_API_TOKEN"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.out.find("\u2717"), std::string::npos) << ok.out;

  const auto bad = write_config(
      agent_config("agent_a", {{"BACKUP_API_TOKEN", "wrong"}, {"POSTGRES_PASSWORD", "wrong"}}),
      "bad.env");
  const auto r = run_agent({"check", "--config", bad.string()});
  EXPECT_EQ(r.exit_code, 43) << r.out << r.err;
  EXPECT_NE(r.out.find("\u2717 PostgreSQL database agent_a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\u2717 receiver accepts BACKUP_API_TOKEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\u2713 BACKUP_DIR usable"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pgship::test

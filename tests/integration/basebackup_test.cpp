// Physical base backups against real PostgreSQL 15 and a real receiver: BASE_BACKUP streamed
// through zstd and age into the receiver (never a file in BACKUP_DIR); the stored bytes are
// what the reference tools read back (age -d | zstd -d | tar -x, then pg_verifybackup); the
// run is ok only once the receiver's archive holds the WAL up to the backup's stop point.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "daemon_fixture.hpp"
#include "http_client.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class BaseBackup : public daemon_fixture {
 protected:
  stdfs::path stored_dir() const { return receiver_->storage_dir() / "default" / "pgdata"; }

  std::vector<std::string> stored_base_backups(const std::string& suffix) const {
    std::vector<std::string> out;
    for (const auto& name : files_ending(stored_dir(), suffix)) {
      if (name.find(".manifest.") == std::string::npos) out.push_back(name);
    }
    return out;
  }

  // Nothing of a base backup is ever a file on the agent's side.
  void expect_nothing_staged() {
    for (const auto& e : stdfs::recursive_directory_iterator(backup_dir())) {
      EXPECT_EQ(e.path().string().find(".base.tar"), std::string::npos) << e.path();
    }
  }

  // Decrypts, decompresses and untars `file` into `into`, then pg_verifybackup reads it with
  // its backup_manifest (-n: the WAL is in the archive, not in the tar).
  void expect_verifies(const stdfs::path& file, const stdfs::path& identity,
                       const stdfs::path& into) {
    stdfs::create_directories(into);
    const auto unpacked =
        run_process({"bash", "-c",
                     "set -o pipefail; age -d -i '" + identity.string() + "' '" + file.string() +
                         "' | zstd -dq | tar -x -C '" + into.string() + "'"});
    ASSERT_TRUE(unpacked.ok()) << unpacked.describe() << unpacked.err;
    EXPECT_TRUE(stdfs::exists(into / "backup_manifest"));
    EXPECT_TRUE(stdfs::exists(into / "backup_label"));
    const auto verified =
        run_process({(pg().bin_dir() / "pg_verifybackup").string(), "-n", into.string()});
    EXPECT_TRUE(verified.ok()) << verified.describe() << verified.out << verified.err;
    EXPECT_NE(verified.out.find("successfully verified"), std::string::npos) << verified.out;
  }

  // The daemon's walsender goes a moment after the daemon; its slot is dropped then.
  void drop_slot_once_idle(const std::string& slot) {
    wait_until(
        [&] {
          return pg().query_value("postgres",
                                  "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                                      slot + "' AND active") == "0";
        },
        30s);
    pg().execute("postgres", "SELECT pg_drop_replication_slot('" + slot + "')");
  }

  stdfs::path new_identity() {
    const auto path = dir_ / "base.key";
    const auto r = run_process({"age-keygen", "-o", path.string()});
    EXPECT_TRUE(r.ok()) << r.err;
    return path;
  }
  std::string recipient_of(const stdfs::path& identity) {
    const auto r = run_process({"age-keygen", "-y", identity.string()});
    EXPECT_TRUE(r.ok()) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
};

TEST_F(BaseBackup, AStreamThatCannotStartStopsTheBackupBeforeItUploadsAnything) {
  start();
  // The receiver already knows this system with another segment size: the stream refuses to
  // ship into it, so the one-shot command, which needs its own stream, never starts pg_basebackup.
  const auto system =
      pg().query_value("postgres", "SELECT system_identifier FROM pg_control_system()");
  write_file(receiver_->storage_dir() / ".wal" / "default" / system / "meta.json",
             R"({"segment_size":1048576,"first_seen":"2026-12-01T00:00:00Z"})");
  const auto config = write_config(agent_config("postgres", {{"WAL_STREAM", "on"},
                                                             {"WAL_SLOT", "pgship_cannot_start"},
                                                             {"BASEBACKUP_WAL_TIMEOUT", "3s"}}));
  const auto r = run_agent({"basebackup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 60) << r.out << r.err;
  EXPECT_NE(r.err.find("the WAL stream the base backup needs did not start within 3 s"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("segments of 1048576 bytes"), std::string::npos) << r.err;
  EXPECT_FALSE(stdfs::exists(stored_dir())) << "nothing uploaded";
  pg().execute("postgres",
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
               "slot_name = 'pgship_cannot_start'");
}

TEST_F(BaseBackup, WithTheDaemonsStreamTheRunIsOkOnceTheArchiveHoldsItsWal) {
  start();
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_SLOT", "pgship_basebackup_test"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"}},
               "postgres");
  const auto first = post("/api/v1/basebackups");
  ASSERT_EQ(first.result_int(), 202) << first.body();
  const std::string location(first[boost::beast::http::field::location]);
  ASSERT_TRUE(location.starts_with("/api/v1/runs/")) << location;
  const auto run_id = location.substr(std::string("/api/v1/runs/").size());
  EXPECT_EQ(post("/api/v1/basebackups").result_int(), 409) << "one job at a time";
  // Without BASEBACKUP_SCHEDULE the daemon takes none of its own, and says why one is needed.
  EXPECT_TRUE(wait_until(
      [&] {
        return read_file(dir_ / "agent.log").find("has no complete base backup") !=
               std::string::npos;
      },
      30s))
      << read_file(dir_ / "agent.log");

  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 600s));
  EXPECT_EQ(result_of(run_id), "ok") << read_file(dir_ / "agent.log");
  const auto stored = stored_base_backups(".base.tar.zst");
  ASSERT_EQ(stored.size(), 1u);
  const auto manifests = files_ending(stored_dir(), ".manifest.json");
  ASSERT_EQ(manifests.size(), 1u) << "the manifest goes up once the WAL is durable";
  const auto manifest = read_file(stored_dir() / manifests[0]);
  const auto system =
      pg().query_value("postgres", "SELECT system_identifier FROM pg_control_system()");
  EXPECT_NE(manifest.find("\"kind\":\"basebackup\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"system_identifier\":\"" + system + "\""), std::string::npos)
      << manifest;
  EXPECT_NE(manifest.find("\"stop_lsn\":"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"backup_manifest_sha256\":"), std::string::npos) << manifest;
  EXPECT_GT(metric("pgship_basebackup_last_success_timestamp_seconds"), 0);
  EXPECT_GT(metric("pgship_basebackup_last_size_bytes"), 0);
  expect_nothing_staged();

  EXPECT_EQ(stop_daemon(), 0);
  drop_slot_once_idle("pgship_basebackup_test");
}

// Without a daemon, the one-shot command streams the WAL its backup needs itself, on WAL_SLOT,
// for as long as the backup takes.
TEST_F(BaseBackup, TheOneShotCommandStreamsItsOwnWalWhenNoDaemonDoes) {
  start();
  const auto key = new_identity();
  const auto config =
      write_config(agent_config("postgres", {{"WAL_STREAM", "on"},
                                             {"WAL_SLOT", "pgship_one_shot"},
                                             {"WAL_ACK_INTERVAL", "200ms"},
                                             {"COMPRESSION", "zstd"},
                                             {"ENCRYPT_RECIPIENTS", recipient_of(key)}}));
  const auto r = run_agent({"basebackup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("streamed by this command"), std::string::npos) << r.out;
  EXPECT_EQ(files_ending(stored_dir(), ".manifest.json.age").size(), 1u)
      << "complete: the manifest went up";
  const auto stored = stored_base_backups(".base.tar.zst.age");
  ASSERT_EQ(stored.size(), 1u);
  expect_nothing_staged();
  expect_verifies(stored_dir() / stored[0], key, dir_ / "restored");

  // The receiver lists it under its kind, never under a database of its name.
  http_request list;
  list.target = "/api/backup/list?kind=basebackup";
  list.headers["Authorization"] = "Bearer " + token_;
  const auto listed = http_send(receiver_->port(), list);
  EXPECT_EQ(listed.result_int(), 200);
  EXPECT_NE(listed.body().find(stored[0]), std::string::npos) << listed.body();
  EXPECT_NE(listed.body().find("\"kind\":\"basebackup\""), std::string::npos) << listed.body();
  list.target = "/api/backup/list?database=pgdata";
  EXPECT_EQ(http_send(receiver_->port(), list).body().find(stored[0]), std::string::npos);

  EXPECT_EQ(pg().query_value("postgres",
                             "SELECT active FROM pg_replication_slots WHERE slot_name = "
                             "'pgship_one_shot'"),
            "f")
      << "the slot stays for the daemon, no longer streamed";
  pg().execute("postgres", "SELECT pg_drop_replication_slot('pgship_one_shot')");

  // Without WAL_STREAM the command refuses before anything starts.
  const auto off = run_agent(
      {"basebackup", "--config", write_config(agent_config("postgres"), "off.env").string()});
  EXPECT_EQ(off.exit_code, 2) << off.out << off.err;
  EXPECT_NE(off.err.find("basebackup needs WAL_STREAM=on"), std::string::npos) << off.err;
}

// Streaming into an archive with no complete base backup recovers nothing: with
// BASEBACKUP_SCHEDULE set, the daemon takes one at once instead of at the schedule's time.
TEST_F(BaseBackup, AScheduledDaemonTakesABaseBackupAtOnceForAnArchiveWithoutOne) {
  start();
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_SLOT", "pgship_wal_start"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"BASEBACKUP_SCHEDULE", "0 0 1 1 *"}},
               "postgres");
  ASSERT_TRUE(
      wait_until([&] { return files_ending(stored_dir(), ".manifest.json").size() == 1; }, 300s))
      << read_file(dir_ / "agent.log");
  EXPECT_EQ(stored_base_backups(".base.tar").size(), 1u);
  const auto runs = read_file(backup_dir() / "runs.jsonl");
  EXPECT_NE(runs.find("\"trigger\":\"wal-start\""), std::string::npos) << runs;
  EXPECT_EQ(stop_daemon(), 0);
  drop_slot_once_idle("pgship_wal_start");
}

// The slot is streamed, but not into this receiver: pg_receivewal holds it, so the one-shot
// command leaves the WAL to that stream and it never reaches the archive. After
// BASEBACKUP_WAL_TIMEOUT the run is basebackup_incomplete (exit 63): the tar stays stored,
// without the manifest and the mark that would make it a starting point.
TEST_F(BaseBackup, ABackupWhoseWalNeverReachesTheArchiveIsIncomplete) {
  start();
  pg().execute("postgres", "SELECT pg_create_physical_replication_slot('pgship_elsewhere', true)");
  const auto wal_dir = dir_ / "receivewal";
  stdfs::create_directories(wal_dir);
  const auto held =
      run_process({"bash", "-c",
                   "'" + (pg().bin_dir() / "pg_receivewal").string() + "' -h '" + pg().host() +
                       "' -p " + std::to_string(pg().port()) + " -U '" + pg().user() +
                       "' -S pgship_elsewhere --no-loop -D '" + wal_dir.string() + "' > '" +
                       (dir_ / "receivewal.log").string() + "' 2>&1 < /dev/null & echo $!"},
                  {.env = {{"PGPASSWORD", pg().password()}}});
  ASSERT_TRUE(held.ok()) << held.err;
  const int receivewal = std::stoi(held.out);
  struct stop_after {
    int pid;
    ~stop_after() { ::kill(pid, SIGTERM); }
  } stop{receivewal};
  ASSERT_TRUE(wait_until(
      [&] {
        return pg().query_value("postgres",
                                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                "'pgship_elsewhere' AND active") == "1";
      },
      30s))
      << read_file(dir_ / "receivewal.log");

  const auto config = write_config(agent_config(
      "postgres",
      {{"WAL_STREAM", "on"}, {"WAL_SLOT", "pgship_elsewhere"}, {"BASEBACKUP_WAL_TIMEOUT", "3s"}}));
  const auto r = run_agent({"basebackup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 63) << r.out << r.err;  // basebackup_incomplete
  EXPECT_NE((r.out + r.err).find("0/"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(stored_base_backups(".base.tar").size(), 1u) << "the tar stays";
  EXPECT_TRUE(files_ending(stored_dir(), ".manifest.json").empty()) << "but is no starting point";

  ::kill(receivewal, SIGTERM);
  drop_slot_once_idle("pgship_elsewhere");
}

// A file the server cannot read fails BASE_BACKUP in the middle of its COPY: the run says
// PostgreSQL's own ERROR line, and the receiver keeps nothing of the half-sent upload.
TEST_F(BaseBackup, AServerErrorIsReportedInItsOwnWordsAndNothingIsCommitted) {
  start();
  const auto unreadable = pg().data_dir() / "pgship_unreadable";
  { std::ofstream(unreadable) << "the walsender cannot open this\n"; }
  stdfs::permissions(unreadable, stdfs::perms::none);
  struct remove_after {
    stdfs::path path;
    ~remove_after() {
      std::error_code ec;
      stdfs::remove(path, ec);
    }
  } cleanup{unreadable};

  const auto config = write_config(agent_config("postgres", {{"WAL_STREAM", "on"},
                                                             {"WAL_SLOT", "pgship_server_error"},
                                                             {"WAL_ACK_INTERVAL", "200ms"},
                                                             {"COMPRESSION", "zstd"}}));
  const auto r = run_agent({"basebackup", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 15) << r.out << r.err;  // dump_failed
  const auto said = r.out + r.err;
  EXPECT_NE(said.find("BASE_BACKUP failed: ERROR:"), std::string::npos) << said;
  EXPECT_NE(said.find("pgship_unreadable"), std::string::npos) << said;
  EXPECT_TRUE(stored_base_backups(".base.tar.zst").empty());
  EXPECT_TRUE(files_ending(stored_dir(), ".manifest.json").empty());
  expect_nothing_staged();
  // The abandoned upload was deleted: the receiver's spool holds no part of it.
  const auto spool = receiver_->storage_dir() / ".incoming";
  if (stdfs::exists(spool)) {
    for (const auto& e : stdfs::recursive_directory_iterator(spool))
      EXPECT_FALSE(e.is_regular_file()) << e.path();
  }
  EXPECT_EQ(pg().query_value("postgres",
                             "SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                             "'pgship-basebackup'"),
            "0")
      << "no walsender is left sending the backup";
  pg().execute("postgres", "SELECT pg_drop_replication_slot('pgship_server_error')");
}

}  // namespace
}  // namespace pgship::test

// Physical base backups against real PostgreSQL 15 and a real receiver: pg_basebackup streamed
// through zstd and age into the receiver (never a file in BACKUP_DIR); the stored bytes are
// what the reference tools read back (age -d | zstd -d | tar -x, then pg_verifybackup); the
// run is ok only once the receiver's archive holds the WAL up to the backup's stop point.

#include <chrono>
#include <filesystem>

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

TEST_F(BaseBackup, WithoutTheWalItIsStoredButIncompleteAndReadsBackWithTheReferenceTools) {
  start();
  const auto key = new_identity();
  const auto config =
      write_config(agent_config("postgres", {{"COMPRESSION", "zstd"},
                                             {"ENCRYPT_RECIPIENTS", recipient_of(key)},
                                             {"BASEBACKUP_WAL_TIMEOUT", "3s"}}));
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_agent({"basebackup", "--config", config.string()});
  // No WAL stream runs: the upload commits, the completion does not come.
  EXPECT_EQ(r.exit_code, 63) << r.out << r.err;
  EXPECT_NE(r.out.find("basebackup_incomplete"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timeline 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WAL_STREAM=on"), std::string::npos) << r.out;
  EXPECT_GE(std::chrono::steady_clock::now() - started, 3s) << "it waited for its deadline";

  const auto stored = stored_base_backups(".base.tar.zst.age");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(files_ending(stored_dir(), ".manifest.json.age").empty())
      << "no manifest: the backup is not complete";
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
  wait_until(
      [&] {
        return pg().query_value("postgres",
                                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                "'pgship_basebackup_test' AND active") == "0";
      },
      30s);
  pg().execute("postgres", "SELECT pg_drop_replication_slot('pgship_basebackup_test')");
}

}  // namespace
}  // namespace pgship::test

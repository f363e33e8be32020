// `pgship-agent check` with WAL_STREAM=on says exactly what the server lacks for the stream,
// with the statement or line that adds it: the REPLICATION attribute, the pg_hba.conf
// replication line, max_slot_wal_keep_size; and what is fine (the slot it creates itself).

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "agent_fixture.hpp"
#include "pg_cluster.hpp"

namespace pgship::test {
namespace {

class WalCheck : public agent_fixture {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<pg_cluster>(); }
  static void TearDownTestSuite() { server_.reset(); }
  pg_cluster& database_server() override { return *server_; }

  process_result check(const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> config = {{"WAL_STREAM", "on"}};
    for (const auto& [k, v] : overrides)
      config[k] = v;
    return run_agent(
        {"check", "--config", write_config(agent_config("postgres", config)).string()});
  }

  // The line check printed for `item`, or "" when none.
  static std::string line_of(const std::string& out, const std::string& item) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.find(" " + item) != std::string::npos) return line;
    return "";
  }

  static std::unique_ptr<pg_cluster> server_;
};

std::unique_ptr<pg_cluster> WalCheck::server_;

TEST_F(WalCheck, NamesWhatTheServerLacksAndHowToAddIt) {
  start();
  server_->execute("postgres", "DROP ROLE IF EXISTS plain; CREATE ROLE plain LOGIN PASSWORD 'pw'");
  const auto lacking = check({{"REPLICATION_USER", "plain"}, {"REPLICATION_PASSWORD", "pw"}});
  EXPECT_EQ(lacking.exit_code, 43) << lacking.out;
  EXPECT_EQ(
      line_of(lacking.out, "role plain may replicate"),
      "\u2717 role plain may replicate: it lacks the REPLICATION attribute: ALTER ROLE \"plain\" "
      "REPLICATION;")
      << lacking.out;
  EXPECT_NE(line_of(lacking.out, "replication connection as plain")
                .find("must be superuser or replication role to start walsender"),
            std::string::npos)
      << lacking.out;
  EXPECT_NE(line_of(lacking.out, "max_slot_wal_keep_size")
                .find("\u26a0 max_slot_wal_keep_size: unset (-1)"),
            std::string::npos)
      << lacking.out;
  EXPECT_EQ(line_of(lacking.out, "replication slot pgship"),
            "- replication slot pgship: absent: the agent creates it (RESERVE_WAL) when it starts")
      << lacking.out;
  EXPECT_EQ(lacking.out.find("pw"), std::string::npos) << "the password shows";

  // The server's defaults for the superuser, with a keep size: every WAL item passes.
  server_->execute("postgres", "ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'");
  server_->execute("postgres", "SELECT pg_reload_conf()");
  const auto ready = check({});
  EXPECT_EQ(ready.exit_code, 0) << ready.out;
  EXPECT_NE(line_of(ready.out, "replication connection as postgres").find("\u2713"),
            std::string::npos)
      << ready.out;
  EXPECT_NE(
      line_of(ready.out, "max_slot_wal_keep_size").find("\u2713 max_slot_wal_keep_size: 64MB"),
      std::string::npos)
      << ready.out;
}

TEST_F(WalCheck, AMissingReplicationLineInPgHbaIsNamedWithTheLineToAdd) {
  start();
  // Keep every line but the replication ones, as many production pg_hba.conf files are.
  const auto hba = server_->data_dir() / "pg_hba.conf";
  std::ifstream in(hba);
  std::string kept, original;
  for (std::string line; std::getline(in, line);) {
    original += line + "\n";
    if (line.find("replication") == std::string::npos) kept += line + "\n";
  }
  in.close();
  {
    std::ofstream out(hba, std::ios::trunc);
    out << kept;
  }
  server_->execute("postgres", "SELECT pg_reload_conf()");
  const auto r = check({});
  EXPECT_EQ(r.exit_code, 43) << r.out;
  EXPECT_EQ(line_of(r.out, "replication connection as postgres"),
            "\u2717 replication connection as postgres: pg_hba.conf has no replication line for "
            "it: add \"host replication postgres 127.0.0.1/32 scram-sha-256\" before any line "
            "that rejects it, then SELECT pg_reload_conf();")
      << r.out;
  std::ofstream(hba, std::ios::trunc) << original;
  server_->execute("postgres", "SELECT pg_reload_conf()");
}

}  // namespace
}  // namespace pgship::test

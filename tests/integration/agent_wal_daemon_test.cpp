// WAL_STREAM in the daemon: refused at start-up without uploads, started and stopped with the
// daemon, its slot created, its status on GET /api/v1/wal and /health, and the pgship_wal_*
// series exported only when it is on. (What it ships is wal_stream_test's and the recovery
// proof's.)

#include <filesystem>

#include <gtest/gtest.h>
#include <unistd.h>

#include "daemon_fixture.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;

class AgentWalDaemon : public daemon_fixture {};

TEST_F(AgentWalDaemon, StreamingWithoutUploadsStopsStartUpWithOneLine) {
  // No receiver: agent_config says UPLOAD=off.
  const auto config = write_config(agent_config("postgres", {{"WAL_STREAM", "on"}}));
  const auto r = run_agent({"run", "--config", config.string()}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.describe() << r.out;
  EXPECT_NE((r.out + r.err).find("WAL_STREAM=on needs UPLOAD=on"), std::string::npos)
      << r.out << r.err;
}

TEST_F(AgentWalDaemon, PitrDrillsThatCannotRunHereStopStartUpSayingWhy) {
  start();
  // pg_dump alone, no server binaries beside it.
  const auto bin = dir_ / "client-only";
  std::filesystem::create_directories(bin);
  std::filesystem::create_symlink(pg().bin_dir() / "pg_dump", bin / "pg_dump");
  const auto config =
      write_config(agent_config("postgres", {{"PITR_DRILL_SCHEDULE", "0 5 * * *"},
                                             {"PG_DUMP_PATH", (bin / "pg_dump").string()}}));
  const auto r = run_agent({"run", "--config", config.string()}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.describe() << r.out;
  const auto said = r.out + r.err;
  EXPECT_NE(said.find("PITR_DRILL_SCHEDULE is set, but"), std::string::npos) << said;
  // Root (PostgreSQL refuses it) is said first; otherwise the binaries, each by name.
  if (::geteuid() == 0) {
    EXPECT_NE(said.find("refuses to run as root"), std::string::npos) << said;
  } else {
    EXPECT_NE(said.find("postgres, pg_ctl, pg_verifybackup"), std::string::npos) << said;
  }
  const auto bad =
      write_config(agent_config("postgres", {{"PITR_DRILL_SCHEDULE", "daily"}}), "bad.env");
  const auto refused = run_agent({"run", "--config", bad.string()}, 60s);
  EXPECT_EQ(refused.exit_code, 2) << refused.describe();
  EXPECT_NE((refused.out + refused.err).find("PITR_DRILL_SCHEDULE=\"daily\" is invalid"),
            std::string::npos)
      << refused.out << refused.err;
}

TEST_F(AgentWalDaemon, WithoutTheStreamThereAreNoWalSeriesAndNoWalRoute) {
  start();
  start_daemon({}, "postgres");
  EXPECT_EQ(metric("pgship_wal_stream_up"), -1);
  EXPECT_EQ(metric("pgship_wal_lag_seconds"), -1);
  EXPECT_EQ(get("/api/v1/wal").result_int(), 404);
  EXPECT_EQ(stop_daemon(), 0);
}

TEST_F(AgentWalDaemon, TheDaemonRunsTheStreamAndReportsIt) {
  start();
  start_daemon({{"WAL_STREAM", "on"}, {"WAL_SLOT", "pgship_daemon"}, {"WAL_ACK_INTERVAL", "200ms"}},
               "postgres");
  // The slot is the stream's first step on the server.
  ASSERT_TRUE(wait_until(
      [&] {
        return pg().query_value("postgres",
                                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                "'pgship_daemon' AND slot_type = 'physical'") == "1";
      },
      60s))
      << read_file(dir_ / "agent.log");
  for (const char* series :
       {"pgship_wal_stream_up", "pgship_wal_server_lsn_bytes", "pgship_wal_received_lsn_bytes",
        "pgship_wal_durable_lsn_bytes", "pgship_wal_lag_bytes", "pgship_wal_lag_seconds",
        "pgship_wal_segments_shipped_total"}) {
    EXPECT_GE(metric(series), 0) << series << " is exported with WAL_STREAM=on";
  }
  const auto wal = get("/api/v1/wal");
  EXPECT_EQ(wal.result_int(), 200);
  EXPECT_NE(wal.body().find("\"slot\":\"pgship_daemon\""), std::string::npos) << wal.body();
  EXPECT_NE(
      wal.body().find(
          "\"system_id\":\"" +
          pg().query_value("postgres", "SELECT system_identifier FROM pg_control_system()") + "\""),
      std::string::npos)
      << wal.body();
  EXPECT_NE(get("/health").body().find("\"wal\":{"), std::string::npos);

  // A stop ends the stream with the daemon: its walsender goes.
  EXPECT_EQ(stop_daemon(), 0);
  EXPECT_TRUE(wait_until(
      [&] {
        return pg().query_value("postgres",
                                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                "'pgship_daemon' AND active") == "0";
      },
      30s));
  pg().execute("postgres", "SELECT pg_drop_replication_slot('pgship_daemon')");
}

}  // namespace
}  // namespace pgship::test

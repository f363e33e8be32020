// WAL_STREAM in the daemon: refused at start-up without uploads, started and stopped with the
// daemon, its slot created, its status on GET /api/v1/wal and /health, and the pgship_wal_*
// series exported only when it is on. (What it ships is wal_stream_test's and the recovery
// proof's.)

#include <gtest/gtest.h>

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

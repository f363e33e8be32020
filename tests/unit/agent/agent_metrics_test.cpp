#include "daemon/agent_metrics.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;
using sys_clock = std::chrono::system_clock;

// 2026-03-15 12:00:00 UTC
const sys_clock::time_point noon = sys_clock::time_point(std::chrono::seconds(1773576000));

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(AgentMetrics, WalSeriesExistOnlyOnceTheStreamReportsAndTheCounterOnlyGrows) {
  agent_metrics metrics({"a"});
  EXPECT_EQ(metrics.render(noon).find("pgship_wal_"), std::string::npos);
  wal_metric_values v;
  v.up = true;
  v.server_lsn = 3000;
  v.received_lsn = 2500;
  v.durable_lsn = 2000;
  v.lag_bytes = 1000;
  v.lag_seconds = 0.5;
  v.segments_shipped = 4;
  metrics.wal_known(v);
  auto text = metrics.render(noon);
  EXPECT_TRUE(has_line(text, "pgship_wal_stream_up 1")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_server_lsn_bytes 3000")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_received_lsn_bytes 2500")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_durable_lsn_bytes 2000")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_lag_bytes 1000")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_lag_seconds 0.5")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_segments_shipped_total 4")) << text;
  v.segments_shipped = 6;
  metrics.wal_known(v);
  EXPECT_TRUE(has_line(metrics.render(noon), "pgship_wal_segments_shipped_total 6"));
  // A new ship queue counts from 0 again: the counter goes on from where it was.
  v.segments_shipped = 1;
  v.up = false;
  metrics.wal_known(v);
  text = metrics.render(noon);
  EXPECT_TRUE(has_line(text, "pgship_wal_segments_shipped_total 7")) << text;
  EXPECT_TRUE(has_line(text, "pgship_wal_stream_up 0")) << text;
}

TEST(AgentMetrics, UnshippedAndLastLocalExistAtZeroForEveryDatabaseFromStartUp) {
  agent_metrics metrics({"a", "b"});
  const auto text = metrics.render(noon);
  for (const char* db : {"a", "b"}) {
    const std::string label = std::string("{database=\"") + db + "\"}";
    EXPECT_TRUE(has_line(text, "pgship_backup_unshipped" + label + " 0")) << text;
    EXPECT_TRUE(has_line(text, "pgship_backup_last_local_timestamp_seconds" + label + " 0"))
        << text;
  }
}

// UPLOAD=on: a backup kept locally whose upload failed is the newest local one, not a success.
TEST(AgentMetrics, LocalBackupsSetUnshippedNewestLocalAndTheShippedOneAsLastSuccess) {
  agent_metrics metrics({"a"});
  local_backup_summary local;
  local.unshipped = 2;
  local.newest = noon - 1h;
  local.newest_shipped = noon - 25h;
  metrics.local_backups_known("a", local);
  const auto text = metrics.render(noon);
  EXPECT_TRUE(has_line(text, "pgship_backup_unshipped{database=\"a\"} 2")) << text;
  EXPECT_TRUE(
      has_line(text, "pgship_backup_last_local_timestamp_seconds{database=\"a\"} 1773572400"))
      << text;
  EXPECT_TRUE(
      has_line(text, "pgship_backup_last_success_timestamp_seconds{database=\"a\"} 1773486000"))
      << text;
  EXPECT_TRUE(has_line(text, "pgship_backup_last_success_age_seconds{database=\"a\"} 90000"))
      << text;

  // A success known from the run history that is newer stays.
  metrics.last_success("a", noon - 10min);
  metrics.local_backups_known("a", local);
  EXPECT_TRUE(has_line(metrics.render(noon),
                       "pgship_backup_last_success_timestamp_seconds{database=\"a\"} 1773575400"));
}

// The globals entry of a run has series of its own: a failing roles backup shows, and a
// database that happens to be called globals is untouched by it.
TEST(AgentMetrics, TheGlobalsHaveTheirOwnStatusApartFromADatabaseCalledGlobals) {
  agent_metrics metrics({"globals"});
  run_record run;
  run.finished = noon;
  database_run db;
  db.database = "globals";
  database_run roles;
  roles.database = "globals";
  roles.globals = true;
  roles.error = fail(errc::pg_dump_not_found, "no pg_dumpall");
  run.databases = {db, roles};
  metrics.run_finished(run);
  auto text = metrics.render(noon);
  EXPECT_TRUE(has_line(text, "pgship_globals_last_status 0")) << text;
  EXPECT_TRUE(has_line(text, "pgship_backup_last_status{database=\"globals\"} 1")) << text;

  run.databases[1].error = {};
  run.finished = noon + 1h;
  metrics.run_finished(run);
  text = metrics.render(noon + 1h);
  EXPECT_TRUE(has_line(text, "pgship_globals_last_status 1")) << text;
  EXPECT_TRUE(has_line(text, "pgship_globals_last_success_timestamp_seconds 1773579600")) << text;
}

// The textfile is read long after it was written (a timer that stopped): an age in it would
// stay small forever. It carries the timestamps only.
TEST(AgentMetrics, TheTextfileHasNoAgeGauge) {
  test::temp_dir dir;
  agent_metrics metrics({"a"});
  metrics.last_success("a", noon);
  metrics.write_textfile(dir / "agent.prom");
  const auto text = test::read_file(dir / "agent.prom");
  EXPECT_EQ(text.find("pgship_backup_last_success_age_seconds"), std::string::npos) << text;
  EXPECT_NE(text.find("pgship_backup_last_success_timestamp_seconds{database=\"a\"} 1773576000"),
            std::string::npos)
      << text;
  EXPECT_NE(metrics.render(noon).find("pgship_backup_last_success_age_seconds"), std::string::npos);
}

}  // namespace
}  // namespace pgship::agent

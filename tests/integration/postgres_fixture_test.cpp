// The throwaway PostgreSQL fixture itself: a real server that answers over libpq, holds the
// sample data, and dumps and restores with the real client tools.

#include <filesystem>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

TEST(PostgresFixture, AnswersQueriesOverTcpWithPassword) {
  auto& pg = pg_cluster::shared();
  EXPECT_EQ(pg.query_value("postgres", "SELECT current_setting('server_version_num')::int / 10000"),
            "15");
  EXPECT_EQ(pg.query_value("postgres", "SELECT inet_server_port()"), std::to_string(pg.port()));

  // The same connection without the password is refused: TCP auth is real.
  const std::string no_password = "host=127.0.0.1 port=" + std::to_string(pg.port()) +
                                  " user=postgres dbname=postgres connect_timeout=5";
  PGconn* conn = PQconnectdb(no_password.c_str());
  EXPECT_EQ(PQstatus(conn), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(conn)).find("password"), std::string::npos)
      << PQerrorMessage(conn);
  PQfinish(conn);
}

TEST(PostgresFixture, SampleDataLoadsAndDumpsAndRestores) {
  auto& pg = pg_cluster::shared();
  pg.create_database("fixture_sample");
  pg.load_sample_data("fixture_sample", 20000);
  EXPECT_EQ(pg.query_value("fixture_sample", "SELECT count(*) FROM trades"), "20000");
  EXPECT_EQ(pg.query_value("fixture_sample", "SELECT count(*) FROM order_events"), "10000");
  EXPECT_EQ(pg.query_value("fixture_sample", "SELECT count(*) FROM accounts"), "5000");
  EXPECT_EQ(pg.query_value("fixture_sample",
                           "SELECT count(*) FROM order_events WHERE octet_length(signature) = 16 "
                           "AND payload ? 'client'"),
            "10000");

  // The real client tools work against it: custom-format dump, then restore into a new db.
  temp_dir dir;
  const auto dump = dir / "sample.dump";
  const std::map<std::string, std::string> env = {{"PGPASSWORD", pg.password()}};
  auto dumped = run_process(
      {(pg.bin_dir() / "pg_dump").string(), "-h", pg.host(), "-p", std::to_string(pg.port()), "-U",
       pg.user(), "-Fc", "-f", dump.string(), "fixture_sample"},
      {.env = env});
  ASSERT_TRUE(dumped.ok()) << dumped.describe();
  EXPECT_GT(std::filesystem::file_size(dump), 100000u);

  pg.create_database("fixture_restored");
  auto restored = run_process(
      {(pg.bin_dir() / "pg_restore").string(), "-h", pg.host(), "-p", std::to_string(pg.port()),
       "-U", pg.user(), "-d", "fixture_restored", dump.string()},
      {.env = env});
  ASSERT_TRUE(restored.ok()) << restored.describe();
  EXPECT_EQ(pg.query_value("fixture_restored", "SELECT count(*) FROM trades"), "20000");
  EXPECT_EQ(pg.query_value("fixture_restored", "SELECT sum(profit) FROM trades"),
            pg.query_value("fixture_sample", "SELECT sum(profit) FROM trades"));
  pg.drop_database("fixture_restored");
  pg.drop_database("fixture_sample");
}

TEST(ProcessRunner, CapturesOutputExitCodeAndTimesOut) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");

  auto env = run_process({"sh", "-c", "printf %s \"$PGSHIP_X\""}, {.env = {{"PGSHIP_X", "y z"}}});
  EXPECT_EQ(env.out, "y z");

  auto in = run_process({"cat"}, {.stdin_data = std::string("piped")});
  EXPECT_EQ(in.out, "piped");

  const auto start = std::chrono::steady_clock::now();
  auto slow =
      run_process({"sh", "-c", "sleep 30 & sleep 30"}, {.timeout = std::chrono::milliseconds(300)});
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_code, 128 + 9);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  auto missing = run_process({"pgship-no-such-tool"});
  EXPECT_EQ(missing.exit_code, 127);
}

}  // namespace
}  // namespace pgship::test

namespace pgship::test {
namespace {

// WAL tests need small segments, commits that wait for their WAL, and a server that crashes
// and comes back on the same port with its data.
TEST(PgClusterOptions, SmallSegmentsDurableCommitsAndACrashThatKeepsCommittedRows) {
  pg_cluster server(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  EXPECT_EQ(server.query_value("postgres", "SHOW wal_segment_size"), "1MB");
  EXPECT_EQ(server.query_value("postgres", "SHOW synchronous_commit"), "on");
  EXPECT_EQ(server.query_value("postgres", "SHOW fsync"), "on");
  server.execute("postgres", "CREATE TABLE t AS SELECT 42 AS answer");
  const auto port = server.port();
  server.kill9();
  EXPECT_FALSE(server.ready());
  server.start();
  EXPECT_TRUE(server.ready());
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(server.query_value("postgres", "SELECT answer FROM t"), "42");
}

}  // namespace
}  // namespace pgship::test

// TIMESCALEDB_JOBS_DURING_DUMP on a real TimescaleDB. A job that runs every second logs when it
// starts (the server's clock_timestamp()); pg_dump is made to hold its locks for at least eight
// seconds (its output stalls in a pipe after the first 4 KiB, so it blocks inside the COPY of a
// large table), and the test watches the server for that COPY. The window it saw is inside the
// time pg_dump held its locks, whatever the machine's speed:
//
//   pause (the default)  no job starts in it; jobs run again after the backup; the backup, taken
//                        while the pause was in force, restores with every job scheduled as the
//                        source's; after a `kill -9` of the agent mid-dump and the next run,
//                        jobs start again within two minutes (the pause expired or the next
//                        start resumed it) and are scheduled as before
//   run                  jobs keep starting in it (which also proves the window long enough)

#include <atomic>
#include <thread>

#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timescaledb_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string jobs_db = "ts_jobs";
constexpr int stall_seconds = 8;

class TimescaleJobs : public timescaledb_fixture {
 protected:
  static void SetUpTestSuite() {
    if (!timescaledb_missing().empty()) return;
    auto& pg = ts();
    pg.drop_database(jobs_db);
    pg.create_database(jobs_db);
    pg.execute(jobs_db, R"sql(
CREATE EXTENSION IF NOT EXISTS timescaledb;
-- About 3 MB that compresses 2:1: more than the stalled pipe and the socket's buffers take.
CREATE TABLE filler (id int PRIMARY KEY, a text NOT NULL, b text NOT NULL, c text NOT NULL);
INSERT INTO filler
SELECT g, md5(g::text), md5((g * 7)::text), md5((g * 13)::text) FROM generate_series(1, 30000) g;
-- A hypertable with the platform's policies, so there are jobs of every kind to pause.
CREATE TABLE ticks (time timestamptz NOT NULL, instrument_id int NOT NULL, price numeric NOT NULL);
SELECT create_hypertable('ticks', by_range('time', INTERVAL '1 day'));
INSERT INTO ticks
SELECT now() - g * interval '1 minute', g % 16, 1 + (g % 1000) / 1000.0 FROM generate_series(1, 20000) g;
ALTER TABLE ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id');
SELECT count(compress_chunk(c)) FROM show_chunks('ticks', older_than => interval '3 days') c;
SELECT add_compression_policy('ticks', compress_after => interval '4 days');
SELECT add_retention_policy('ticks', drop_after => interval '1 year');
CREATE TABLE job_log (job_id int NOT NULL, at timestamptz NOT NULL);
CREATE PROCEDURE log_tick(job_id int, config jsonb) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_log VALUES (job_id, clock_timestamp());
END $$;
SELECT add_job('log_tick', interval '1 second');
)sql");
  }

  // pg_dump whose output stalls for stall_seconds after its first 4 KiB, beside pg_restore.
  stdfs::path stalling_pg_dump() {
    const auto dir = dir_ / "stalling";
    stdfs::create_directories(dir);
    const auto real = (ts().bin_dir() / "pg_dump").string();
    write_file(dir / "pg_dump", "#!/bin/bash\ncase \"$1\" in --version|-V) exec '" + real +
                                    "' \"$@\";; esac\nset -o pipefail\n'" + real +
                                    "' \"$@\" | { dd bs=4096 count=1 iflag=fullblock status=none; "
                                    "sleep " +
                                    std::to_string(stall_seconds) + "; exec cat; }\n");
    stdfs::permissions(dir / "pg_dump", stdfs::perms::owner_all);
    for (const char* tool : {"pg_restore", "pg_dumpall"}) {
      std::error_code ec;
      stdfs::create_symlink(ts().bin_dir() / tool, dir / tool, ec);
    }
    return dir / "pg_dump";
  }

  // The server's time while pg_dump is at a COPY (of a chunk, or of `filler`), or "". Its
  // session is in that COPY, or past it (the socket's buffers took the rows) while pg_dump,
  // stalled, sends nothing more: either way inside pg_dump's transaction, which holds its locks.
  std::string copy_seen() {
    return ts().query_value(
        jobs_db,
        "SELECT clock_timestamp()::text FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "AND state IN ('active', 'idle in transaction') "
        "AND query LIKE 'COPY % TO stdout;' LIMIT 1");
  }

  std::string server_now() { return ts().query_value(jobs_db, "SELECT clock_timestamp()::text"); }

  int starts_between(const std::string& from, const std::string& to) {
    return std::stoi(ts().query_value(
        jobs_db, "SELECT count(*) FROM job_log WHERE at >= '" + from + "' AND at <= '" + to + "'"));
  }

  int starts_after(const std::string& from) {
    return std::stoi(
        ts().query_value(jobs_db, "SELECT count(*) FROM job_log WHERE at > '" + from + "'"));
  }

  double seconds_between(const std::string& from, const std::string& to) {
    return std::stod(ts().query_value(
        jobs_db,
        "SELECT extract(epoch FROM '" + to + "'::timestamptz - '" + from + "'::timestamptz)"));
  }

  struct observed_backup {
    process_result result;
    std::string first;  // the window in which pg_dump was seen in its COPY
    std::string last;
  };

  // `pgship-agent backup` with `config`, watching the server for pg_dump's COPY meanwhile.
  observed_backup backup_watched(const std::map<std::string, std::string>& config,
                                 const std::string& file) {
    observed_backup out;
    const auto cfg = write_config(config, file);
    std::atomic<bool> done{false};
    std::thread agent([&] {
      out.result = run_agent({"backup", "--config", cfg.string()});
      done = true;
    });
    while (!done) {
      if (const auto at = copy_seen(); !at.empty()) {
        if (out.first.empty()) out.first = at;
        out.last = at;
      }
      std::this_thread::sleep_for(50ms);
    }
    agent.join();
    return out;
  }

  // The window must be long enough that a job every second would have started in it.
  void expect_a_long_window(const observed_backup& b) {
    ASSERT_FALSE(b.first.empty()) << "pg_dump's COPY was never seen\n"
                                  << b.result.out << b.result.err;
    EXPECT_GE(seconds_between(b.first, b.last), stall_seconds - 3.0)
        << "pg_dump did not stall as arranged: " << b.first << " .. " << b.last;
  }
};

TEST_F(TimescaleJobs, PausedJobsDoNotStartDuringTheDumpRunAfterAndRestoreScheduledAsTheSource) {
  start();
  const auto scheduled = jobs_signature(ts(), jobs_db);
  ASSERT_FALSE(scheduled.empty());
  // TIMESCALEDB_JOBS_DURING_DUMP unset: pause is the default.
  const auto cfg = ts_config(jobs_db, {{"PG_DUMP_PATH", stalling_pg_dump().string()}});
  const auto b = backup_watched(cfg, "pause.env");
  ASSERT_EQ(b.result.exit_code, 0) << b.result.out << b.result.err;
  expect_a_long_window(b);
  if (HasFatalFailure()) return;
  EXPECT_EQ(starts_between(b.first, b.last), 0)
      << "TimescaleDB jobs started while pg_dump held its locks (" << b.first << " .. " << b.last
      << "):\n"
      << ts().query_value(jobs_db,
                          "SELECT string_agg(at::text, E'\\n' ORDER BY at) FROM job_log "
                          "WHERE at >= '" +
                              b.first + "' AND at <= '" + b.last + "'");

  // They run again afterwards, and nothing of the pause is left in the catalog.
  const auto ended = server_now();
  EXPECT_TRUE(wait_until([&] { return starts_after(ended) > 0; }, 60s))
      << "no job started in the minute after the backup";
  EXPECT_EQ(jobs_signature(ts(), jobs_db), scheduled);

  // The manifest describes the jobs as scheduled, as the dump holds them.
  const auto name = newest_backup(backup_dir(), jobs_db);
  ASSERT_FALSE(name.empty());
  const auto m = manifest_of(backup_dir(), name);
  for (const auto& j : m.at("timescaledb").as_object().at("jobs").as_array())
    EXPECT_TRUE(j.as_object().at("scheduled").as_bool()) << json::serialize(j);

  // The backup taken while the pause was in force restores with every job as the source's.
  const auto r = run_agent({"restore", "--config", (dir_ / "pause.env").string(), "--id", name,
                            "--target-db", "ts_jobs_copy", "--create"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(jobs_signature(ts(), "ts_jobs_copy"), scheduled)
      << "the restored copy's jobs are not scheduled as the source's";
  ts().drop_database("ts_jobs_copy");
}

TEST_F(TimescaleJobs, RunLeavesJobsStartingDuringTheDump) {
  start();
  const auto cfg = ts_config(jobs_db, {{"PG_DUMP_PATH", stalling_pg_dump().string()},
                                       {"TIMESCALEDB_JOBS_DURING_DUMP", "run"}});
  const auto b = backup_watched(cfg, "run.env");
  ASSERT_EQ(b.result.exit_code, 0) << b.result.out << b.result.err;
  expect_a_long_window(b);
  if (HasFatalFailure()) return;
  EXPECT_GE(starts_between(b.first, b.last), 1)
      << "with TIMESCALEDB_JOBS_DURING_DUMP=run no job started in " << b.first << " .. " << b.last;
}

TEST_F(TimescaleJobs, AKilledAgentLeavesNothingPausedForLong) {
  start();
  const auto scheduled = jobs_signature(ts(), jobs_db);
  const auto cfg = write_config(ts_config(jobs_db, {{"PG_DUMP_PATH", stalling_pg_dump().string()}}),
                                "killed.env");
  // The agent as a process of its own, killed with SIGKILL while pg_dump is in its COPY: its
  // children (pg_dump) live on until their pipe breaks, as after an OOM kill.
  const auto argv = agent_argv({"backup", "--config", cfg.string()});
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto log = (dir_ / "killed.log").string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  const bool in_copy = wait_until([&] { return !copy_seen().empty(); }, 120s);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(in_copy) << "pg_dump's COPY was never seen\n" << read_file(log);
  ASSERT_TRUE(wait_until([&] { return copy_seen().empty(); }, 60s))
      << "the orphaned pg_dump did not end";

  // The next run (with the real pg_dump), then jobs must run and be scheduled as before.
  const auto next = run_agent(
      {"backup", "--config",
       write_config(ts_config(jobs_db, {{"BACKUP_DIR", backup_dir().string()}}), "next.env")
           .string()});
  EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
  const auto ended = server_now();
  EXPECT_TRUE(wait_until([&] { return starts_after(ended) > 0; }, 120s))
      << "jobs stayed paused after the agent was killed and the next run ended\n"
      << read_file(log) << next.out << next.err;
  EXPECT_EQ(jobs_signature(ts(), jobs_db), scheduled);
}

}  // namespace
}  // namespace pgship::test

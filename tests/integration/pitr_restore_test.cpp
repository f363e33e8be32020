// `pgship-agent restore --pitr` (issue 29) against real PostgreSQL 15 and a real receiver: a
// base backup the agent took and the WAL it streamed (zstd + age) are made into a data
// directory set up to recover to a moment; PostgreSQL started on it recovers to exactly that
// moment (with one serial writer: the last commit at or before the target is there, the first
// after it is not), or to the end for `latest`. A target outside the window, a non-empty
// directory and an unreadable --at are refused.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wal/wal_names.hpp>

#include "process.hpp"
#include "timescaledb.hpp"
#include "wal_source_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class PitrRestore : public wal_source_fixture {
 protected:
  // A directory the recovering server's user owns, in one of its own (the tests run as root,
  // PostgreSQL as postgres): restore --pitr runs as DIR's owner and puts wal-fetch's settings
  // beside it.
  stdfs::path owned_dir(const std::string& name) {
    const auto home = area_.writable_dir("pitr") / "home";
    stdfs::create_directories(home / name);
    if (::geteuid() == 0) {
      if (const passwd* pg = ::getpwnam("postgres")) {
        for (const auto& d : {home, home / name}) {
          if (::chown(d.c_str(), pg->pw_uid, pg->pw_gid) != 0) ADD_FAILURE() << "chown " << d;
        }
      }
    }
    return home / name;
  }

  process_result restore(const std::string& at, const stdfs::path& dir) {
    return run_agent({"restore", "--pitr", "--at", at, "--target-dir", dir.string(), "--config",
                      restore_config_.string()});
  }

  // A sample of the receiver's /metrics whose name starts `name{`; 0 when absent.
  double receiver_metric(const std::string& name) {
    const auto r = run_process({"curl", "-fsS", receiver_->url("/metrics")});
    const auto at = r.out.find(name + "{");
    if (at == std::string::npos) return 0;
    const auto value = r.out.find(' ', r.out.find('}', at));
    return std::stod(r.out.substr(value + 1));
  }
  // The newest moment the receiver's PITR window reaches, in unix seconds (0 without one).
  double window_newest() {
    return receiver_metric("pgship_receiver_pitr_newest_timestamp_seconds");
  }

  std::string max_id(pg_cluster& server) { return sql(server, "SELECT max(id) FROM ticks"); }

  // A source streaming into the archive, a base backup the daemon took, then `rows` rows from
  // one serial writer; returns, per row, the server's time just after its commit, written in
  // a zone that is not UTC (as an operator in it would). Sets restore_config_ for restore.
  std::vector<std::string> write_after_base_backup(
      int rows, const std::function<void()>& before_backup = {}) {
    auto options = source_options_;
    options.initdb_args.push_back("--wal-segsize=1");
    options.durable_commits = true;
    source_ = std::make_unique<pg_cluster>(options);
    start();
    recipient_ = new_wal_key();
    if (!start_streaming(recipient_)) throw std::runtime_error("the WAL stream did not come up");
    source_->execute("postgres", "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz)");
    if (before_backup) before_backup();
    run_to_end("/api/v1/basebackups");

    const auto after = write_rows(1, rows);
    wait_archived();
    system_ = sql(*source_, "SELECT system_identifier FROM pg_control_system()");
    // The identity where the postgres user's wal-fetch can read it.
    identity_ = area_.put("wal.key", read_file(dir_ / "wal.key"), 0644);
    restore_config_ = write_config(
        agent_config("postgres",
                     {{"AGE_IDENTITY_FILE", identity_.string()}, {"PITR_SYSTEM", system_}}),
        "restore.env");
    return after;
  }

  // Rows first..last from one serial writer: per row, the server's time just after its commit.
  std::vector<std::string> write_rows(int first, int last) {
    std::vector<std::string> after;
    for (int i = first; i <= last; ++i) {
      source_->execute("postgres",
                       "INSERT INTO ticks VALUES (" + std::to_string(i) + ", clock_timestamp())");
      after.push_back(sql(*source_,
                          "SELECT to_char(clock_timestamp() AT TIME ZONE 'Asia/Kolkata', "
                          "'YYYY-MM-DD HH24:MI:SS.US') || '+05:30'"));
      std::this_thread::sleep_for(20ms);
    }
    return after;
  }

  // POSTs `route` to the daemon (a backup, a base backup) and waits until that run ended well.
  void run_to_end(const std::string& route) {
    const auto started = post(route);
    if (started.result_int() != 202) throw std::runtime_error(route + ": " + started.body());
    const std::string location(started[boost::beast::http::field::location]);
    const auto run_id = location.substr(std::string("/api/v1/runs/").size());
    wait_until([&] { return result_of(run_id) != "running"; }, 300s);
    if (result_of(run_id) != "ok") throw std::runtime_error(route + ": the run failed");
  }

  // Until the receiver holds every byte of WAL written so far, and its window reaches the
  // newest tick.
  void wait_archived() {
    const auto flushed = sql(*source_, "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn");
    if (!wait_until([&] { return metric("pgship_wal_durable_lsn_bytes") >= std::stod(flushed); },
                    120s))
      throw std::runtime_error("the WAL never became durable");
    const auto last_written =
        std::stod(sql(*source_, "SELECT extract(epoch FROM max(at)) FROM ticks"));
    if (!wait_until([&] { return window_newest() >= last_written; }, 60s))
      throw std::runtime_error("the PITR window never reached the last write");
  }

  // `drill --pitr --at at` as the postgres user (BACKUP_DIR's owner: PostgreSQL runs as no
  // root), reading the archive restore --pitr reads.
  process_result pitr_drill(const std::string& at) {
    drill_backups_ = owned_dir("drill-backups");
    const auto drill_config =
        write_config(agent_config(drill_databases_, {{"AGE_IDENTITY_FILE", identity_.string()},
                                                     {"PITR_SYSTEM", system_},
                                                     {"BACKUP_DIR", drill_backups_.string()}}),
                     "drill.env");
    return run_agent({"drill", "--pitr", "--at", at, "--config", drill_config.string()}, 300s);
  }

  // A server restore --pitr --start left running on `dir` (a socket beside it only): asked
  // with psql, stopped with pg_ctl when it goes.
  struct running_copy {
    stdfs::path bin, dir, side;
    std::string port, user, password;
    std::string psql(const std::string& query) const {
      const auto r = run_process({(bin / "psql").string(), "-h", side.string(), "-p", port, "-U",
                                  user, "-d", "postgres", "-XAtc", query},
                                 {.env = {{"PGPASSWORD", password}}});
      return r.out.substr(0, r.out.find('\n'));
    }
    ~running_copy() {
      std::vector<std::string> stop = {
          (bin / "pg_ctl").string(), "-D", dir.string(), "stop", "-m", "fast"};
      if (::geteuid() == 0) stop.insert(stop.begin(), {"runuser", "-u", "postgres", "--"});
      run_process(stop);
    }
  };

  // restore --pitr --at `at` --start into owned_dir(name): what it said in `out`, the copy
  // (nullptr when it did not start).
  std::unique_ptr<running_copy> start_copy(const std::string& at, const std::string& name,
                                           process_result& out) {
    const auto dir = owned_dir(name);
    out = run_agent({"restore", "--pitr", "--at", at, "--target-dir", dir.string(), "--start",
                     "--config", restore_config_.string()},
                    180s);
    const auto port_at = out.out.find(" port ");
    if (out.exit_code != 0 || port_at == std::string::npos) {
      out.out += read_file(dir.parent_path() / (name + ".pgship-recovery") / "server.log");
      return nullptr;
    }
    auto copy = std::make_unique<running_copy>();
    copy->bin = source_->bin_dir();
    copy->dir = dir;
    copy->side = dir.parent_path() / (name + ".pgship-recovery");
    copy->port = out.out.substr(port_at + 6, out.out.find(' ', port_at + 6) - port_at - 6);
    copy->user = source_->user();
    copy->password = source_->password();
    return copy;
  }

  // The daemon on the drills' BACKUP_DIR, without the stream: it becomes that directory's
  // owner, so it may start PostgreSQL.
  void start_daemon_on_drill_backups() {
    start_daemon({{"BACKUP_DIR", drill_backups_.string()},
                  {"AGE_IDENTITY_FILE", identity_.string()},
                  {"PITR_SYSTEM", system_}},
                 "postgres");
  }

  // Nothing of a drill is left: no scratch directory, no server running on it.
  void expect_drill_cleaned_up() {
    const auto scratch = drill_backups_ / ".pitr-drill" / "pgdata";
    EXPECT_FALSE(stdfs::exists(scratch)) << scratch;
    EXPECT_FALSE(stdfs::exists(drill_backups_ / ".pitr-drill" / "pgdata.pgship-recovery"));
    for (const auto& e : stdfs::directory_iterator("/proc")) {
      const auto name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(e.path() / "cmdline", std::ios::binary);
      const std::string cmdline{std::istreambuf_iterator<char>(in), {}};
      EXPECT_EQ(cmdline.find(scratch.string()), std::string::npos)
          << "a process still runs on the scratch directory: " << e.path();
    }
  }

  // restore --pitr to `at` into a new directory, then PostgreSQL recovers it: the newest row.
  std::string recovered_max_id(const std::string& at, const std::string& name) {
    const auto dir = owned_dir(name);
    const auto r = restore(at, dir);
    if (r.exit_code != 0) return "restore failed: " + r.out + r.err;
    recovered_ = wal_recovery::of_prepared(dir, source_->password());
    if (!recovered_->wait_promoted(180s)) return "recovery did not finish";
    const auto id = max_id(recovered_->cluster());
    recovered_.reset();
    return id;
  }

  shared_dir area_;
  std::string system_;
  stdfs::path identity_;
  std::string recipient_;
  stdfs::path restore_config_;
  stdfs::path drill_backups_;
  pg_cluster_options source_options_;         // the source cluster's, beside 1 MiB segments
  std::string drill_databases_ = "postgres";  // POSTGRES_DB of drills
};

TEST_F(PitrRestore, RecoversToTheMomentAskedAndNotPastIt) {
  const auto after = write_after_base_backup(30);
  // Between row 17's commit and row 18's.
  const auto dir = owned_dir("at-17");
  const auto r = restore(after[16], dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(stdfs::exists(dir / "recovery.signal"));
  EXPECT_FALSE(stdfs::exists(dir / "fetch.env")) << "wal-fetch's settings live beside DIR";
  EXPECT_TRUE(stdfs::exists(dir.parent_path() / "at-17.pgship-recovery" / "fetch.env"));
  EXPECT_EQ(read_file(dir / "postgresql.auto.conf").find(token_), std::string::npos)
      << "no token inside the data directory";
  recovered_ = wal_recovery::of_prepared(dir, source_->password());
  ASSERT_TRUE(recovered_->wait_promoted(180s)) << "recovery did not finish";
  EXPECT_EQ(max_id(recovered_->cluster()), "17") << "the last commit at or before the target";
  recovered_.reset();

  // latest: everything the archive holds.
  const auto all = owned_dir("latest");
  const auto latest = restore("latest", all);
  ASSERT_EQ(latest.exit_code, 0) << latest.out << latest.err;
  recovered_ = wal_recovery::of_prepared(all, source_->password());
  ASSERT_TRUE(recovered_->wait_promoted(180s)) << "recovery did not finish";
  EXPECT_EQ(max_id(recovered_->cluster()), "30");
  recovered_.reset();

  // Refused, nothing made: a moment before the window, a directory that is not empty, --at
  // that is no target.
  const auto early = owned_dir("early");
  const auto before = restore("2020-01-01T00:00:00Z", early);
  EXPECT_EQ(before.exit_code, 52) << before.out << before.err;  // restore_refused
  EXPECT_NE(before.err.find("the PITR window is"), std::string::npos) << before.err;
  EXPECT_TRUE(stdfs::is_empty(early));
  const auto full = restore("latest", all);
  EXPECT_EQ(full.exit_code, 52) << full.out << full.err;
  EXPECT_NE(full.err.find("is not empty"), std::string::npos) << full.err;
  const auto vague = restore("yesterday", early);
  EXPECT_EQ(vague.exit_code, 2) << vague.out << vague.err;
  EXPECT_NE(vague.err.find("RFC 3339"), std::string::npos) << vague.err;
  if (::geteuid() == 0) {
    // An identity only root reads: wal-fetch, run by the recovering server as postgres, could
    // not decrypt the first segment. Refused before anything is made.
    const auto root_only =
        write_config(agent_config("postgres", {{"AGE_IDENTITY_FILE", (dir_ / "wal.key").string()},
                                               {"PITR_SYSTEM", system_}}),
                     "root-only.env");
    const auto unreadable = run_agent({"restore", "--pitr", "--at", "latest", "--target-dir",
                                       early.string(), "--config", root_only.string()});
    EXPECT_EQ(unreadable.exit_code, 2) << unreadable.out << unreadable.err;
    EXPECT_NE(unreadable.err.find("cannot be read by the user the recovered server runs as"),
              std::string::npos)
        << unreadable.err;
    EXPECT_TRUE(stdfs::is_empty(early));
  }

  // --start: the agent starts PostgreSQL, waits until it recovered to the target and was
  // promoted, and says where it stopped; the server stays up on a socket beside DIR only.
  process_result up;
  const auto started = start_copy(after[9], "started", up);
  ASSERT_TRUE(started) << up.out << up.err;
  EXPECT_NE(up.out.find("recovered to " + after[9] + ": recovery stopping before commit"),
            std::string::npos)
      << up.out;
  EXPECT_EQ(started->psql("SELECT max(id) FROM ticks"), "10");
}

// Issue 29's proof: twenty random moments between the commits of one serial writer, each
// recovered on its own; each copy holds the last commit at or before its target, not the next.
TEST_F(PitrRestore, TwentyRandomTargetsEachRecoverExactlyTheirCommits) {
  const auto after = write_after_base_backup(30);
  const auto seed = std::random_device{}();
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> row(1, 28);  // the window reaches past row 29's write
  for (int i = 0; i < 20; ++i) {
    const int k = row(random);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", target " + std::to_string(i) + ": after row " +
                 std::to_string(k) + " (" + after[k - 1] + ")");
    EXPECT_EQ(recovered_max_id(after[k - 1], "random-" + std::to_string(i)), std::to_string(k));
  }
}

// The timeline a promoted copy writes on, from its current WAL file's name: pg_control's
// checkpoint says it only once the checkpoint that follows promotion is done.
constexpr const char* current_timeline =
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int";

// A PITR after an earlier one: the cluster recovered to row 10 goes on as timeline 2 and the
// daemon streams it into the same archive; a recovery to a moment of timeline 2, from the base
// backup of timeline 1, follows timeline 1 to the switch and timeline 2 after it: rows 1-10,
// then 101-105, none of timeline 1's 11-30.
TEST_F(PitrRestore, APitrAfterAnEarlierPitrFollowsTheNewTimeline) {
  const auto after = write_after_base_backup(30);
  process_result up;
  const auto first = start_copy(after[9], "first", up);
  ASSERT_TRUE(first) << up.out << up.err;
  ASSERT_EQ(first->psql(current_timeline), "2");

  // The original server goes; the daemon streams the recovered one into the same archive.
  EXPECT_EQ(stop_daemon(), 0);
  source_->stop();
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"},
                {"ENCRYPT_RECIPIENTS", recipient_},
                {"POSTGRES_HOST", first->side.string()},
                {"POSTGRES_PORT", first->port}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s));
  std::vector<std::string> later;
  for (int i = 101; i <= 110; ++i) {
    first->psql("INSERT INTO ticks VALUES (" + std::to_string(i) + ", clock_timestamp())");
    later.push_back(first->psql(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || 'Z'"));
    std::this_thread::sleep_for(20ms);
  }
  const auto flushed = std::stod(first->psql("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn"));
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_durable_lsn_bytes") >= flushed; }, 120s));
  const auto last_written = std::stod(first->psql("SELECT extract(epoch FROM max(at)) FROM ticks"));
  ASSERT_TRUE(wait_until([&] { return window_newest() >= last_written; }, 60s))
      << std::to_string(last_written) << " " << std::to_string(window_newest()) << " "
      << run_process({"curl", "-sS", "-H", "Authorization: Bearer " + token_,
                      receiver_->url("/api/wal/" + system_)})
             .out;

  // Started by the agent with the cluster's own settings (the server that wrote timeline 2
  // ran with them, and a standby must have as many connections).
  const auto second = start_copy(later[4], "second", up);
  ASSERT_TRUE(second) << up.out << up.err;
  EXPECT_EQ(second->psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM ticks"),
            "1,2,3,4,5,6,7,8,9,10,101,102,103,104,105");
  EXPECT_EQ(second->psql(current_timeline), "3");
}

// Sabotage: an index page changed on disk before the base backup (BASE_BACKUP reads the files,
// not the server's buffers, and no later change rewrites the page): the drill's amcheck finds
// it and names the index.
TEST_F(PitrRestore, APitrDrillFindsACorruptIndexPageAndNamesIt) {
  write_after_base_backup(3, [&] {
    source_->execute("postgres",
                     "CREATE TABLE quotes (id int, symbol text); INSERT INTO quotes SELECT g, "
                     "'symbol-' || lpad(g::text, 6, '0') FROM generate_series(1, 2000) g; "
                     "CREATE INDEX quotes_symbol ON quotes (symbol); CHECKPOINT");
    const auto file =
        source_->data_dir() / sql(*source_, "SELECT pg_relation_filepath('quotes_symbol')");
    auto bytes = read_file(file);
    // Block 1 is the first leaf page (0 is the metapage). One digit of a key in the middle of
    // it changes (not the page's high key, which the checks only compare against): the keys
    // are out of order and a heap row no longer has its index entry.
    std::vector<std::size_t> keys;
    for (auto at = bytes.find("symbol-", 8192); at != std::string::npos && at < 16384;
         at = bytes.find("symbol-", at + 1))
      keys.push_back(at);
    ASSERT_GT(keys.size(), 10u);
    bytes[keys[keys.size() / 2] + 9] = '9';
    write_file(file, bytes);
  });
  const auto found = pitr_drill("latest");
  EXPECT_EQ(found.exit_code, 50) << found.out << found.err;  // drill_mismatch
  EXPECT_NE(found.out.find("index quotes_symbol"), std::string::npos) << found.out;
  expect_drill_cleaned_up();
}

// The platform's TimescaleDB: a drill to a moment of a quiet window counts, in every table of
// the fixture database (hypertables, compressed chunks, continuous aggregates), exactly the
// rows a logical backup taken in that window counted.
TEST_F(PitrRestore, APitrDrillOfTimescaleDbCountsWhatALogicalBackupOfTheQuietWindowCounted) {
  PGSHIP_REQUIRE_TIMESCALEDB();
  source_options_ = timescaledb_cluster_options();
  drill_databases_ = "tsdb";
  write_after_base_backup(1, [&] {
    load_timescaledb_fixture(*source_, "tsdb");
    // Quiet: no TimescaleDB job writes from here on.
    source_->execute("tsdb",
                     "SELECT alter_job(job_id, scheduled => false) FROM "
                     "timescaledb_information.jobs WHERE job_id >= 1000");
  });
  // The logical backup of the quiet window, with its exact counts.
  const auto dumps = owned_dir("dumps");
  const auto backup_config = write_config(
      agent_config("tsdb", {{"BACKUP_DIR", dumps.string()}, {"UPLOAD", "off"}}), "dump.env");
  const auto dumped = run_agent({"backup", "--config", backup_config.string()});
  ASSERT_EQ(dumped.exit_code, 0) << dumped.out << dumped.err;
  const auto moment = sql(*source_,
                          "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD HH24:MI:SS.US') || 'Z'");
  std::this_thread::sleep_for(50ms);
  source_->execute("postgres", "INSERT INTO ticks VALUES (1000, clock_timestamp())");
  wait_archived();
  std::uint64_t rows = 0;
  std::size_t tables = 0;
  for (const auto& e : stdfs::directory_iterator(dumps)) {
    if (e.path().extension() != ".json") continue;
    const auto manifest = boost::json::parse(read_file(e.path())).as_object();
    for (const auto& t : manifest.at("tables").as_array()) {
      ++tables;
      rows += t.as_object().at("rows").to_number<std::uint64_t>();
    }
  }
  ASSERT_GT(rows, 0u) << "the logical backup counted rows";
  const auto drilled = pitr_drill(moment);
  ASSERT_EQ(drilled.exit_code, 0) << drilled.out << drilled.err;
  EXPECT_NE(drilled.out.find("tsdb: " + std::to_string(tables) + " tables, " +
                             std::to_string(rows) + " rows"),
            std::string::npos)
      << drilled.out;
  expect_drill_cleaned_up();
}

// drill --pitr: recovered into a scratch directory, started, checked by amcheck and counted,
// then stopped and removed; to a moment, and to latest.
TEST_F(PitrRestore, APitrDrillRecoversChecksCountsAndLeavesNothing) {
  const auto after = write_after_base_backup(30);
  const auto at = pitr_drill(after[16]);
  ASSERT_EQ(at.exit_code, 0) << at.out << at.err;
  EXPECT_NE(at.out.find("ok      PITR drill"), std::string::npos) << at.out;
  EXPECT_NE(at.out.find("postgres: 1 tables, 17 rows"), std::string::npos) << at.out;
  EXPECT_NE(at.out.find("recovery stopping before commit"), std::string::npos) << at.out;
  expect_drill_cleaned_up();
  const auto history = read_file(drill_backups_ / "runs.jsonl");
  EXPECT_NE(history.find("\"kind\":\"pitr_drill\""), std::string::npos) << history;
  EXPECT_NE(history.find("\"recovered_to_ms\""), std::string::npos) << history;

  const auto latest = pitr_drill("latest");
  ASSERT_EQ(latest.exit_code, 0) << latest.out << latest.err;
  EXPECT_NE(latest.out.find("postgres: 1 tables, 30 rows"), std::string::npos) << latest.out;
  expect_drill_cleaned_up();

  // A drill killed (kill -9) once its scratch server runs leaves that server behind; the next
  // drill stops it, removes what it left and runs.
  const auto scratch_pid = drill_backups_ / ".pitr-drill" / "pgdata" / "postmaster.pid";
  std::string command;
  for (const auto& word :
       agent_argv({"drill", "--pitr", "--at", "latest", "--config", (dir_ / "drill.env").string()}))
    command += "'" + word + "' ";
  const auto killed = run_process(
      {"sh", "-c",
       command + "> /dev/null 2>&1 & agent=$!; for i in $(seq 1200); do [ -f '" +
           scratch_pid.string() + "' ] && break; sleep 0.05; done; kill -9 $agent; wait $agent"},
      {.timeout = 120s});
  ASSERT_TRUE(stdfs::exists(scratch_pid)) << "the killed drill left its server: " << killed.out;
  const auto after_kill = pitr_drill("latest");
  ASSERT_EQ(after_kill.exit_code, 0) << after_kill.out << after_kill.err;
  EXPECT_NE(after_kill.err.find("an earlier PITR drill left"), std::string::npos) << after_kill.err;
  expect_drill_cleaned_up();

  // A daemon on that BACKUP_DIR (it runs as its owner, postgres): the drills' results from the
  // history, then one it runs itself, asked over its control API.
  EXPECT_EQ(stop_daemon(), 0);
  start_daemon_on_drill_backups();
  EXPECT_EQ(metric("pgship_pitr_drill_last_status"), 1);
  EXPECT_GT(metric("pgship_pitr_drill_last_success_timestamp_seconds"), 0);
  EXPECT_GT(metric("pgship_pitr_drill_duration_seconds"), 0);
  const auto asked = post("/api/v1/drills", {}, R"({"pitr": true, "at": "latest"})");
  ASSERT_EQ(asked.result_int(), 202) << asked.body();
  const auto run_id = std::string(asked[boost::beast::http::field::location])
                          .substr(std::string("/api/v1/runs/").size());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 300s));
  EXPECT_EQ(result_of(run_id), "ok") << read_file(dir_ / "agent.log");
  EXPECT_GT(metric("pgship_pitr_drill_recovered_to_timestamp_seconds"), 0);
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 200) << health.body();
  EXPECT_NE(health.body().find("\"pitr_drill\":{\"ok\":true"), std::string::npos) << health.body();
  expect_drill_cleaned_up();
}

// Sabotage: a segment the archive lost, and one changed where it is stored, each fail the drill
// with the reason named, and the drill still leaves nothing behind.
TEST_F(PitrRestore, APitrDrillFailsOnAMissingOrChangedSegmentAndSaysWhy) {
  write_after_base_backup(3);
  // Some megabytes of WAL after the base backup (1 MiB segments), then one more tick.
  source_->execute("postgres",
                   "CREATE TABLE filler AS SELECT g, repeat('x', 400) AS pad "
                   "FROM generate_series(1, 20000) g");
  source_->execute("postgres", "INSERT INTO ticks VALUES (4, clock_timestamp())");
  wait_archived();
  std::vector<stdfs::path> segments;
  for (const auto& e : stdfs::recursive_directory_iterator(receiver_->storage_dir() / ".wal")) {
    if (e.is_directory() &&
        pgship::wal::parse_segment_name(e.path().filename().string(), 1ull << 20))
      segments.push_back(e.path());
  }
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
  ASSERT_GE(segments.size(), 5u);
  const auto victim = segments[segments.size() - 3];  // in the middle of the filler's WAL

  const auto aside = area_.writable_dir("aside") / victim.filename();
  stdfs::rename(victim, aside);
  const auto missing = pitr_drill("latest");
  EXPECT_EQ(missing.exit_code, 62) << missing.out << missing.err;  // wal_gap
  EXPECT_NE(missing.out.find("missing or could not be fetched"), std::string::npos) << missing.out;
  expect_drill_cleaned_up();
  stdfs::rename(aside, victim);

  for (const auto& e : stdfs::directory_iterator(victim)) {
    if (!e.is_regular_file()) continue;
    auto bytes = read_file(e.path());
    bytes[bytes.size() / 2] ^= 0x01;
    write_file(e.path(), bytes);
    break;
  }
  const auto changed = pitr_drill("latest");
  EXPECT_EQ(changed.exit_code, 19) << changed.out << changed.err;  // restore_failed
  EXPECT_NE(changed.out.find("pgship-agent wal-fetch: " + victim.filename().string()),
            std::string::npos)
      << changed.out;
  expect_drill_cleaned_up();

  // A daemon on that BACKUP_DIR reads the failure from the history: unhealthy, status 0.
  EXPECT_EQ(stop_daemon(), 0);
  start_daemon_on_drill_backups();
  EXPECT_EQ(metric("pgship_pitr_drill_last_status"), 0);
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 503) << health.body();
  EXPECT_NE(health.body().find("last PITR drill failed"), std::string::npos) << health.body();
}

// PITR_KEEP_DAYS (issue 29): three base backups a few seconds apart, and `retention` run as if
// a day had passed since the middle one stopped. The dry run names what goes (the oldest base
// backup, its mark, the WAL before the middle one's start, the older dump); the real pass then
// deletes exactly that and prints the same plan; after SIGHUP the receiver's window starts at
// the middle backup's stop, a moment after it still recovers exactly, and one before it is
// refused with the window named.
TEST_F(PitrRestore, RetentionDeletesWhatItsDryRunSaidAndTheWindowStaysRecoverable) {
  write_after_base_backup(3);
  const auto switch_segments = [this] {
    for (int i = 0; i < 3; ++i)
      sql(*source_, "SELECT pg_switch_wal() FROM (SELECT txid_current()) t");
  };
  switch_segments();
  const auto before_second = write_rows(4, 6);
  std::this_thread::sleep_for(1100ms);
  run_to_end("/api/v1/basebackups");
  const auto after_second = write_rows(7, 9);
  switch_segments();
  std::this_thread::sleep_for(1100ms);  // base backup names are stamped to the second
  run_to_end("/api/v1/basebackups");
  write_rows(10, 12);
  wait_archived();
  run_to_end("/api/v1/backups");
  std::this_thread::sleep_for(1100ms);  // dump names are stamped to the second
  run_to_end("/api/v1/backups");

  const auto storage = receiver_->storage_dir();
  const auto system_dir = storage / ".wal" / "default" / system_;
  std::vector<std::pair<std::int64_t, std::string>> stops;  // stop time (ms), backup id
  for (const auto& e : stdfs::directory_iterator(system_dir / "basebackups")) {
    const auto mark = boost::json::parse(read_file(e.path())).as_object();
    stops.emplace_back(mark.at("stop_time").as_int64(), std::string(mark.at("id").as_string()));
  }
  std::sort(stops.begin(), stops.end());
  ASSERT_EQ(stops.size(), 3u);
  // A day after the middle backup stopped, half-way to the newest one's stop.
  const auto now_ms = stops[1].first + 24 * 3600 * 1000 + (stops[2].first - stops[1].first) / 2;
  const auto now_text =
      format_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms)), true);

  // Every stored file by its path under STORAGE_DIR (temp and spool files aside).
  const auto files = [&] {
    std::set<std::string> out;
    for (const auto& e : stdfs::recursive_directory_iterator(storage)) {
      const auto relative = stdfs::relative(e.path(), storage).string();
      if (e.is_regular_file() && !relative.starts_with(".incoming")) out.insert(relative);
    }
    return out;
  };
  const auto retention = [&](bool dry) {
    std::vector<std::string> argv{receiver_binary(), "retention", "--now", now_text};
    argv.push_back(dry ? "--dry-run" : "--force");
    process_options options;
    options.env = {{"STORAGE_DIR", storage.string()},
                   {"BACKUP_API_TOKEN", token_},
                   {"PITR_KEEP_DAYS", "1"},
                   {"KEEP_DAYS", "1"}};
    return run_process(argv, options);
  };
  const auto plan_lines = [](const std::string& out) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("  ")) lines.push_back(line);
    return lines;
  };

  const auto before = files();
  const auto dry = retention(true);
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_EQ(files(), before) << "a dry run deletes nothing";
  const auto plan = plan_lines(dry.out);
  EXPECT_NE(dry.out.find("  delete  " + stops[0].second + "\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("  delete  mark " + stops[0].second + "\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("  keep    " + stops[1].second + "  (PITR window)"), std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("  keep    " + stops[2].second + "  (newest, PITR window)"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("WAL kept from "), std::string::npos) << dry.out;

  // What the dry run says goes, as stored paths: a backup with its sidecars and manifest, a
  // WAL run as every segment directory of it that is stored, a mark as its record.
  std::set<std::string> said;
  std::set<std::string> said_segments;
  std::size_t said_backups = 0;
  for (const auto& line : plan) {
    if (!line.starts_with("  delete  ")) continue;
    const auto what = line.substr(10);
    if (what.starts_with("mark ")) {
      said.insert(stdfs::relative(system_dir / "basebackups" / (what.substr(5) + ".json"), storage)
                      .string());
    } else if (what.starts_with("WAL ")) {
      const auto range = what.substr(4, what.find(' ', 4) - 4);
      const auto dots = range.find("..");
      const auto first = range.substr(0, dots);
      const auto last = dots == std::string::npos ? first : range.substr(dots + 2);
      for (const auto& e : stdfs::directory_iterator(system_dir)) {
        const auto name = e.path().filename().string();
        if (wal::is_segment_name(name) && name >= first && name <= last) said_segments.insert(name);
      }
    } else {
      ++said_backups;
      // The backup, its .sha256, its manifest, and its <name>.json (without the codecs).
      const auto stem = what.substr(0, what.find('.') + 1);
      for (const auto& f : before)
        if (stdfs::path(f).filename().string().starts_with(stem)) said.insert(f);
    }
  }
  EXPECT_EQ(said_backups, 2u) << "the oldest base backup and the older dump\n" << dry.out;
  EXPECT_FALSE(said_segments.empty()) << dry.out;
  for (const auto& f : before) {
    const auto in_segment = f.find("/" + system_ + "/");
    if (in_segment == std::string::npos) continue;
    const auto rest = f.substr(in_segment + system_.size() + 2);
    if (said_segments.contains(rest.substr(0, rest.find('/')))) said.insert(f);
  }

  // Carrying out a plan made for tomorrow needs --force.
  const auto unforced = run_process({receiver_binary(), "retention", "--now", now_text},
                                    process_options{.env = {{"STORAGE_DIR", storage.string()},
                                                            {"BACKUP_API_TOKEN", token_},
                                                            {"PITR_KEEP_DAYS", "1"}}});
  EXPECT_EQ(unforced.exit_code, 2) << unforced.out << unforced.err;
  EXPECT_NE(unforced.err.find("--force"), std::string::npos) << unforced.err;
  EXPECT_EQ(files(), before) << "refused, nothing deleted";

  const auto real = retention(false);
  ASSERT_EQ(real.exit_code, 0) << real.out << real.err;
  EXPECT_EQ(plan_lines(real.out), plan) << "the pass carried out the plan the dry run printed";
  std::set<std::string> gone;
  const auto after = files();
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::inserter(gone, gone.end()));
  EXPECT_EQ(gone, said) << dry.out;
  for (const auto& segment : said_segments)
    EXPECT_FALSE(stdfs::exists(system_dir / segment)) << segment;
  const auto again = retention(true);
  EXPECT_EQ(again.out.find("  delete  "), std::string::npos) << "nothing more goes\n" << again.out;

  // The running receiver reads the archive again on SIGHUP: its window starts at the middle
  // backup's stop now.
  ASSERT_EQ(::kill(receiver_->pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        return receiver_metric("pgship_receiver_pitr_oldest_timestamp_seconds") * 1000 >=
               static_cast<double>(stops[1].first) - 1;
      },
      30s))
      << run_process({"curl", "-fsS", receiver_->url("/metrics")}).out;
  EXPECT_EQ(recovered_max_id(after_second[1], "after-the-middle"), "8")
      << "a moment inside the window recovers exactly";
  const auto early = owned_dir("before-the-window");
  const auto refused = restore(before_second[1], early);
  EXPECT_EQ(refused.exit_code, 52) << refused.out << refused.err;  // restore_refused
  EXPECT_NE(refused.err.find("the PITR window is"), std::string::npos) << refused.err;
  EXPECT_TRUE(stdfs::is_empty(early));
}
}  // namespace
}  // namespace pgship::test

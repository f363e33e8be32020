// Restore drills of a real TimescaleDB database shaped like the trading platform's: a one-shot
// `drill` and a daemon's scheduled drill (DRILL_JOBS=2) restore the receiver's copy and compare
// every hypertable, plain table and continuous aggregate exactly; the scratch copy starts no
// TimescaleDB job; and a drill on a new host (an empty BACKUP_DIR, the receiver's manifest)
// compares counts too, also for an age-encrypted backup.

#include <algorithm>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "timescaledb_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string source_db = "tsdb";

class TimescaleDrill : public timescaledb_fixture {
 protected:
  static void SetUpTestSuite() { create_fixture_database(source_db); }

  // What a drill that compared every relation of the fixture exactly prints.
  static std::string compared_every_count() {
    return std::to_string(timescaledb_fixture_relations().size()) + " tables";
  }

  void expect_drill_compared_counts(const process_result& r) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ok      " + source_db), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find(compared_every_count()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("as the backup counted (exact)"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("no counts to compare"), std::string::npos) << r.out;
  }
};

TEST_F(TimescaleDrill, AOneShotDrillComparesEveryCountAndDropsItsScratchCopy) {
  start();
  ASSERT_FALSE(backup(ts_config(source_db)).empty());
  // Only the receiver's copy is drilled.
  for (const auto& name : files_ending(backup_dir(), ".dump"))
    stdfs::remove(backup_dir() / name);
  const auto r = run_agent({"drill", "--config", (dir_ / "backup.env").string()});
  expect_drill_compared_counts(r);
  EXPECT_NE(r.out.find(source_db + "_pgship_drill (dropped)"), std::string::npos) << r.out;
  EXPECT_FALSE(database_exists(ts(), source_db + "_pgship_drill"));
}

TEST_F(TimescaleDrill, AKeptScratchCopyRunsNoJobAndReadsLikeItsSource) {
  start();
  ASSERT_FALSE(backup(ts_config(source_db)).empty());
  const auto keep = write_config(
      ts_config(source_db, {{"DRILL_KEEP", "true"}, {"DRILL_DATABASE", "{db}_inspect"}}),
      "keep.env");
  const auto kept = run_agent({"drill", "--config", keep.string()});
  expect_drill_compared_counts(kept);
  const std::string scratch = source_db + "_inspect";
  ASSERT_TRUE(database_exists(ts(), scratch));
  const auto drill_ended = std::chrono::steady_clock::now();

  // How long a restored copy takes to run its jobs here: a real restore of the same backup.
  // The scratch copy has had at least that long (and three launcher polls more) to run any.
  const auto restore = run_agent({"restore", "--config", keep.string(), "--latest", "--database",
                                  source_db, "--target-db", "tsdb_control", "--create"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  const auto restored = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return job_runs(ts(), "tsdb_control") > 0; }, 180s))
      << "the restored copy never ran a job: the check below would prove nothing";
  const auto took = std::chrono::steady_clock::now() - restored;
  const auto until = std::max(drill_ended, restored) + took + 3s;  // the scratch is older
  while (std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(200ms);
  EXPECT_EQ(job_runs(ts(), scratch), 0u)
      << "the drill's scratch copy ran TimescaleDB jobs:\n"
      << ts().query_value(scratch,
                          "SELECT string_agg(job_id || ' ' || coalesce(total_runs, 0), ', ') "
                          "FROM timescaledb_information.job_stats WHERE total_runs > 0");
  ts().drop_database("tsdb_control");
  // What an operator inspecting it sees in a plain session: the source's rows, compressed
  // chunks included (a copy left in TimescaleDB's restore mode reads those as empty, and its
  // hypertables put new rows into their root tables).
  const auto relations = timescaledb_fixture_relations();
  EXPECT_EQ(exact_counts(ts(), scratch, relations), exact_counts(ts(), source_db, relations))
      << "the kept scratch copy does not read like its source (timescaledb.restoring is "
      << ts().query_value(scratch, "SELECT current_setting('timescaledb.restoring', true)")
      << " there)";
  EXPECT_EQ(compressed_chunks(ts(), scratch), compressed_chunks(ts(), source_db));
  ts().drop_database(scratch);
}

TEST_F(TimescaleDrill, AScheduledDrillRestoresInParallelAndComparesEveryCount) {
  start();
  // A backup on the receiver first, so the first scheduled drill has one to restore: its
  // result is the verdict, whatever it is.
  ASSERT_FALSE(backup(ts_config(source_db)).empty());
  start_daemon({{"DRILL_SCHEDULE", "*/5 * * * * *"}, {"DRILL_JOBS", "2"}}, source_db);
  std::string drill_id;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& r : runs()) {
          const auto& o = r.as_object();
          if (o.at("kind") != "drill" || o.at("trigger") != "schedule") continue;
          if (o.at("result") == "ok" || o.at("result") == "failed") {
            drill_id = std::string(o.at("run_id").as_string());
            return true;
          }
        }
        return false;
      },
      300s))
      << get("/api/v1/runs").body();
  const auto run = json::parse(get("/api/v1/runs/" + drill_id).body()).as_object();
  ASSERT_EQ(run.at("result"), "ok") << json::serialize(run);
  const auto& db = run.at("databases").as_array().at(0).as_object();
  const auto& drill = db.at("drill").as_object();
  EXPECT_EQ(drill.at("row_counts"), "exact") << json::serialize(run);
  EXPECT_EQ(drill.at("tables").to_number<std::size_t>(), timescaledb_fixture_relations().size())
      << json::serialize(run);
  EXPECT_TRUE(drill.at("mismatches").as_array().empty()) << json::serialize(run);
  EXPECT_EQ(metric("pgship_drill_last_status{database=\"" + source_db + "\"}"), 1);
  EXPECT_EQ(metric("pgship_drill_row_mismatches{database=\"" + source_db + "\"}"), 0);
  stop_daemon();
  EXPECT_FALSE(database_exists(ts(), source_db + "_pgship_drill"));
}

TEST_F(TimescaleDrill, ADrillOnANewHostComparesCountsFromTheReceiversManifest) {
  start();
  // Plain: the new host's BACKUP_DIR does not exist yet.
  ASSERT_FALSE(backup(ts_config(source_db)).empty());
  const auto new_host = dir_ / "new-host";
  const auto plain = run_agent(
      {"drill", "--config",
       write_config(ts_config(source_db, {{"BACKUP_DIR", new_host.string()}}), "new-host.env")
           .string()});
  {
    SCOPED_TRACE("plain backup, BACKUP_DIR missing");
    expect_drill_compared_counts(plain);
  }

  // Encrypted: the new host has only the identity, and an empty BACKUP_DIR.
  const auto [key, recipient] = new_age_identity("drill.key");
  ASSERT_FALSE(
      backup(ts_config(source_db, {{"ENCRYPT_RECIPIENTS", recipient}}), "age.env").empty());
  const auto sealed_host = dir_ / "sealed-host";
  stdfs::create_directories(sealed_host);
  const auto sealed =
      run_agent({"drill", "--config",
                 write_config(ts_config(source_db, {{"BACKUP_DIR", sealed_host.string()},
                                                    {"AGE_IDENTITY_FILE", key.string()}}),
                              "sealed-host.env")
                     .string()});
  {
    SCOPED_TRACE("age-encrypted backup, BACKUP_DIR empty");
    expect_drill_compared_counts(sealed);
  }
  EXPECT_FALSE(database_exists(ts(), source_db + "_pgship_drill"));
}

}  // namespace
}  // namespace pgship::test

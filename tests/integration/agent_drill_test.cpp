// Restore drills: the receiver's copy of the newest backup comes back into a scratch database
// on a real PostgreSQL with real pg_restore, every table's rows are compared with the counts
// the dump's snapshot took, and the scratch database is gone afterwards, whatever happened.
// One-shot `pgship-agent drill` and the daemon's DRILL_SCHEDULE and POST /api/v1/drills.

#include <fstream>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "daemon_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class AgentDrill : public daemon_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("drilled");
    pg.load_sample_data("drilled", 20000);
    pg.execute("drilled",
               "CREATE SCHEMA audit; CREATE TABLE audit.\"Odd Name\" (x int);"
               "INSERT INTO audit.\"Odd Name\" SELECT generate_series(1, 41)");
  }

  bool database_exists(const std::string& name) {
    return pg().query_value("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" +
                                            name + "'") != "0";
  }

  stdfs::path backup_now(const std::map<std::string, std::string>& overrides = {}) {
    const auto cfg = write_config(agent_config("drilled", overrides));
    const auto r = run_agent({"backup", "--config", cfg.string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return cfg;
  }

  stdfs::path manifest_file() {
    const auto dumps = local_dumps();
    EXPECT_FALSE(dumps.empty());
    const auto& name = dumps.back();
    return backup_dir() / (name.substr(0, name.size() - 5) + ".json");
  }

  void flip_stored_byte() {
    const auto name = stored_dumps("drilled").back();
    const auto stored = receiver_->storage_dir() / "default" / "drilled" / name;
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(stdfs::file_size(stored) / 2));
    const char c = static_cast<char>(f.peek());
    f.put(static_cast<char>(c ^ 0x20));
  }

  // pg_dump and pg_restore that start only after their delay (seconds), so a test can act
  // while one runs.
  stdfs::path slow_tools(int dump_delay, int restore_delay) {
    const auto dir = dir_ / "slow-tools";
    stdfs::create_directories(dir);
    for (const auto& [tool, delay] :
         {std::pair{"pg_dump", dump_delay}, {"pg_restore", restore_delay}}) {
      const auto real = (pg().bin_dir() / tool).string();
      write_file(dir / tool, "#!/bin/sh\ncase \"$1\" in --version) exec '" + real +
                                 "' --version;; esac\nsleep " + std::to_string(delay) + "\nexec '" +
                                 real + "' \"$@\"\n");
      stdfs::permissions(dir / tool, stdfs::perms::owner_all);
    }
    return dir / "pg_dump";
  }

  json::object run_of(const std::string& run_id) {
    return json::parse(get("/api/v1/runs/" + run_id).body()).as_object();
  }

  std::string start_drill_over_api() {
    const auto res = post("/api/v1/drills");
    EXPECT_EQ(res.result_int(), 202) << res.body();
    EXPECT_TRUE(std::string(res[boost::beast::http::field::location]).starts_with("/api/v1/runs/"));
    return std::string(json::parse(res.body()).as_object().at("run_id").as_string());
  }
};

TEST_F(AgentDrill, RestoresTheReceiversCopyMatchesEveryCountAndDropsTheScratchDatabase) {
  start();
  const auto cfg = backup_now();
  // The local file is not what a drill proves: only the receiver's copy is left.
  for (const auto& name : local_dumps())
    stdfs::remove(backup_dir() / name);
  const auto r = run_agent({"drill", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok      drilled"), std::string::npos) << r.out;
  // 5 sample tables + audit."Odd Name"; every one restored with the rows the dump counted.
  EXPECT_NE(r.out.find("5 tables"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("as the backup counted (exact)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("drilled_pgship_drill (dropped)"), std::string::npos) << r.out;
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
}

// A systemd timer runs `drill` too: its METRICS_TEXTFILE carries the drill's result beside the
// backups' (what RestoreDrillFailed and RestoreDrillTooOld read), not only the daemon's /metrics.
TEST_F(AgentDrill, AOneShotDrillWritesItsResultToTheTextfile) {
  start();
  const auto textfile = dir_ / "pgship.prom";
  const auto cfg = backup_now({{"METRICS_TEXTFILE", textfile.string()}});
  const auto r = run_agent({"drill", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto text = read_file(textfile);
  EXPECT_NE(text.find("\npgship_drill_last_status{database=\"drilled\"} 1\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("\npgship_drill_last_success_timestamp_seconds{database=\"drilled\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\npgship_drill_last_success_timestamp_seconds{database=\"drilled\"} "),
            std::string::npos)
      << text;
  // The backup's series stay, from the run history.
  EXPECT_NE(text.find("\npgship_backup_last_status{database=\"drilled\"} 1\n"), std::string::npos)
      << text;
}

TEST_F(AgentDrill, KeepLeavesTheRestoredScratchDatabaseForInspection) {
  start();
  const auto cfg = backup_now({{"DRILL_KEEP", "true"}, {"DRILL_DATABASE", "{db}_inspect"}});
  const auto r = run_agent({"drill", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(database_exists("drilled_inspect"));
  EXPECT_EQ(pg().query_value("drilled_inspect", "SELECT count(*) FROM audit.\"Odd Name\""), "41");
  EXPECT_EQ(pg().query_value("drilled_inspect", "SELECT count(*) FROM trades"),
            pg().query_value("drilled", "SELECT count(*) FROM trades"));
  // The next drill takes its own leftover over (it carries the drill's marker).
  const auto again = run_agent({"drill", "--config", cfg.string()});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  pg().drop_database("drilled_inspect");
}

TEST_F(AgentDrill, EveryDifferenceFromTheManifestIsNamedAndFailsTheDrill) {
  start();
  const auto cfg = backup_now();
  // The manifest as a dump of a different database would have written it: one count off,
  // one table the restore cannot have, one table it has that is not listed.
  auto m = json::parse(read_file(manifest_file())).as_object();
  json::array tables;
  std::uint64_t trades = 0;
  for (auto& t : m.at("tables").as_array()) {
    auto o = t.as_object();
    if (o.at("name") == "Odd Name") continue;
    if (o.at("name") == "trades") {
      trades = o.at("rows").to_number<std::uint64_t>();
      o["rows"] = trades + 3;
    }
    tables.push_back(std::move(o));
  }
  tables.push_back(json::object{{"schema", "public"}, {"name", "ghost"}, {"rows", 9}});
  m["tables"] = std::move(tables);
  write_file(manifest_file(), json::serialize(m));

  const auto r = run_agent({"drill", "--config", cfg.string()});
  EXPECT_EQ(r.exit_code, 50) << r.out << r.err;  // drill_mismatch
  EXPECT_NE(r.out.find("3 difference(s) between "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("public.trades: " + std::to_string(trades + 3) + " rows in the backup, " +
                       std::to_string(trades) + " restored"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("public.ghost: in the backup (9 rows) but not restored"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("audit.Odd Name: restored (41 rows) but not in the backup's table list"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
}

TEST_F(AgentDrill, ABackupWithoutCountsIsRestoredWithNoCountsToCompare) {
  start();
  const auto cfg = backup_now({{"ROW_COUNTS", "off"}});
  const auto r = run_agent({"drill", "--config", cfg.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no counts to compare"), std::string::npos) << r.out;
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
}

TEST_F(AgentDrill, AScratchNameThatIsASourceOrSomeoneElsesDatabaseIsRefused) {
  start();
  const auto cfg = backup_now();
  auto source = run_agent(
      {"drill", "--config",
       write_config(agent_config("drilled", {{"DRILL_DATABASE", "{db}"}}), "own.env").string()});
  EXPECT_EQ(source.exit_code, 2) << source.out << source.err;
  EXPECT_NE(source.err.find("DRILL_DATABASE=\"{db}\" is invalid"), std::string::npos) << source.err;

  // A database that exists but is not a drill's own is never dropped.
  pg().create_database("precious");
  pg().execute("precious", "CREATE TABLE keep (x int); INSERT INTO keep VALUES (1)");
  const auto other = run_agent(
      {"drill", "--config",
       write_config(agent_config("drilled", {{"DRILL_DATABASE", "precious"}}), "other.env")
           .string()});
  EXPECT_EQ(other.exit_code, 51) << other.out << other.err;  // drill_refused
  EXPECT_NE(other.out.find("was not made by a pgship drill"), std::string::npos) << other.out;
  EXPECT_EQ(pg().query_value("precious", "SELECT count(*) FROM keep"), "1");
  pg().drop_database("precious");
  (void)cfg;
}

TEST_F(AgentDrill, AScheduledDrillRunsInTheDaemonAndReportsItsStagesAndMetrics) {
  start();
  start_daemon({{"RUN_ON_STARTUP", "true"}, {"DRILL_SCHEDULE", "*/3 * * * * *"}}, "drilled");
  std::string drill_id;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& r : runs()) {
          const auto& o = r.as_object();
          if (o.at("kind") == "drill" && o.at("trigger") == "schedule" && o.at("result") == "ok") {
            drill_id = std::string(o.at("run_id").as_string());
            return true;
          }
        }
        return false;
      },
      60s))
      << get("/api/v1/runs").body();
  const auto run = run_of(drill_id);
  const auto& db = run.at("databases").as_array().at(0).as_object();
  std::vector<std::string> stages;
  for (const auto& s : db.at("stages").as_array()) {
    stages.emplace_back(s.as_object().at("name").as_string());
    EXPECT_GE(s.as_object().at("seconds").to_number<double>(), 0.0);
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"download", "restore", "compare", "drop"}))
      << json::serialize(run);
  const auto& drill = db.at("drill").as_object();
  EXPECT_EQ(drill.at("row_counts"), "exact");
  EXPECT_EQ(drill.at("tables").to_number<int>(), 5);
  EXPECT_TRUE(drill.at("mismatches").as_array().empty());

  EXPECT_GE(metric("pgship_drill_runs_total{database=\"drilled\",result=\"ok\"}"), 1);
  EXPECT_EQ(metric("pgship_drill_last_status{database=\"drilled\"}"), 1);
  EXPECT_GT(metric("pgship_drill_last_success_timestamp_seconds{database=\"drilled\"}"), 1.7e9);
  EXPECT_GT(metric("pgship_drill_duration_seconds{database=\"drilled\"}"), 0);
  EXPECT_EQ(metric("pgship_drill_row_mismatches{database=\"drilled\"}"), 0);
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 200) << health.body();
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
}

TEST_F(AgentDrill, ADrillFireDuringABackupIsSkippedAndCounted) {
  start();
  backup_now();
  // The start-up backup takes 4 s; the drill schedule fires every second meanwhile.
  start_daemon({{"PG_DUMP_PATH", slow_tools(4, 0).string()},
                {"RUN_ON_STARTUP", "true"},
                {"DRILL_SCHEDULE", "* * * * * *"}},
               "drilled");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_backup_skipped_total") >= 2; }, 20s))
      << get("/metrics").body();
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& r : runs())
          if (r.as_object().at("kind") == "drill" && r.as_object().at("result") == "ok")
            return true;
        return false;
      },
      30s))
      << get("/api/v1/runs").body();
  // Never two jobs at once: each drill started after the backup before it had finished.
  const auto all = runs();
  for (std::size_t i = 0; i + 1 < all.size(); ++i) {
    const auto& newer = all[i].as_object();
    const auto& older = all[i + 1].as_object();
    if (!older.contains("finished")) continue;
    EXPECT_GE(newer.at("started").as_string(), older.at("finished").as_string())
        << json::serialize(all);
  }
}

TEST_F(AgentDrill, ACorruptOffsiteCopyFailsTheDrillSetsTheMetricAndTurnsHealthTo503) {
  start();
  start_daemon({{"PG_DUMP_PATH", slow_tools(0, 2).string()}}, "drilled");
  const auto backup = post("/api/v1/backups");
  ASSERT_EQ(backup.result_int(), 202) << backup.body();
  const std::string backup_id(json::parse(backup.body()).as_object().at("run_id").as_string());
  ASSERT_TRUE(wait_until([&] { return result_of(backup_id) == "ok"; }, 30s));
  flip_stored_byte();

  const auto drill_id = start_drill_over_api();
  // One job at a time: neither a backup nor a second drill while the drill runs.
  EXPECT_EQ(post("/api/v1/backups").result_int(), 409);
  EXPECT_EQ(post("/api/v1/drills").result_int(), 409);
  ASSERT_TRUE(wait_until([&] { return result_of(drill_id) == "failed"; }, 30s))
      << get("/api/v1/runs/" + drill_id).body();
  const auto run = run_of(drill_id);
  EXPECT_EQ(run.at("kind"), "drill");
  EXPECT_EQ(run.at("error").as_object().at("code"), "hash_mismatch") << json::serialize(run);

  EXPECT_EQ(metric("pgship_drill_last_status{database=\"drilled\"}"), 0);
  EXPECT_EQ(metric("pgship_drill_runs_total{database=\"drilled\",result=\"failed\"}"), 1);
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 503) << health.body();
  EXPECT_NE(health.body().find("last restore drill of drilled failed"), std::string::npos)
      << health.body();
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
  EXPECT_EQ(healthcheck().exit_code, 1);
}

TEST_F(AgentDrill, SigtermDuringTheRestoreLeavesNoScratchDatabase) {
  start();
  backup_now();
  start_daemon({{"PG_DUMP_PATH", slow_tools(0, 30).string()}}, "drilled");
  const auto drill_id = start_drill_over_api();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto o = run_of(drill_id);
        const auto* p = o.if_contains("progress");
        // pg_restore has started (and sleeps): the download waits on it, or has ended.
        return p != nullptr && database_exists("drilled_pgship_drill");
      },
      20s))
      << get("/api/v1/runs/" + drill_id).body();
  const auto started = std::chrono::steady_clock::now();
  const int status = stop_daemon(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_FALSE(database_exists("drilled_pgship_drill"));
  const auto history = read_file(backup_dir() / "runs.jsonl");
  EXPECT_NE(history.find("\"kind\":\"drill\""), std::string::npos);
  EXPECT_NE(history.find("\"result\":\"cancelled\""), std::string::npos) << history;
}

}  // namespace
}  // namespace pgship::test

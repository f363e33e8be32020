// `pgship-agent run` as a real daemon process: its scheduler fires on its own, operators
// trigger runs over HTTP, /health, /metrics and the run history say what happened, and
// SIGTERM stops it promptly without leaving a partial file or a pg_dump behind.

#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "daemon_fixture.hpp"
#include "free_port.hpp"
#include "http_client.hpp"
#include "listening_process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

// pg_dump processes whose command line names `database`.
int pg_dumps_of(const std::string& database) {
  int found = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    const std::string cmd((std::istreambuf_iterator<char>(in)), {});
    if (cmd.find("pg_dump") != std::string::npos &&
        cmd.find("--dbname=" + database) != std::string::npos) {
      ++found;
    }
  }
  ::closedir(proc);
  return found;
}

class AgentDaemon : public daemon_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("daemon_small");
    pg.load_sample_data("daemon_small", 3000);
    pg.create_database("daemon_big");
    pg.load_sample_data("daemon_big", 200000);
  }
};

TEST_F(AgentDaemon, RunsOnItsScheduleAndReportsThroughHealthMetricsAndHistory) {
  start();
  start_daemon({{"SCHEDULE", "*/2 * * * * *"},
                {"KEEP_LOCAL_BACKUPS", "10"},
                {"METRICS_TEXTFILE", (dir_ / "agent.prom").string()}},
               "daemon_small");
  const auto starting = get("/health");
  EXPECT_EQ(starting.result_int(), 200) << starting.body();

  ASSERT_TRUE(wait_until(
      [&] {
        int ok = 0;
        for (const auto& r : runs()) {
          const auto& o = r.as_object();
          if (o.at("result") == "ok" && o.at("trigger") == "schedule") ++ok;
        }
        return ok >= 2;
      },
      30s))
      << get("/api/v1/runs").body();
  EXPECT_GE(stored_dumps("daemon_small").size(), 2u);

  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 200) << health.body();
  EXPECT_NE(health.body().find("\"status\":\"ok\""), std::string::npos) << health.body();
  EXPECT_EQ(get("/livez").result_int(), 200);
  EXPECT_EQ(healthcheck().exit_code, 0) << healthcheck().describe();

  EXPECT_GE(metric("pgship_backup_runs_total{database=\"daemon_small\",result=\"ok\"}"), 2);
  EXPECT_EQ(metric("pgship_backup_last_status{database=\"daemon_small\"}"), 1);
  EXPECT_GE(metric("pgship_backup_last_success_age_seconds{database=\"daemon_small\"}"), 0);
  EXPECT_GT(metric("pgship_next_run_timestamp_seconds"), 1.7e9);
  EXPECT_GT(metric("pgship_upload_bytes_total"), 0);
  EXPECT_GT(metric("pgship_backup_last_size_bytes{database=\"daemon_small\"}"), 0);
  const auto metrics_file = dir_ / "metrics.txt";
  write_file(metrics_file, get("/metrics").body());
  const auto promtool =
      run_process({"sh", "-c", "promtool check metrics < " + metrics_file.string()});
  EXPECT_TRUE(promtool.ok()) << promtool.describe() << promtool.out;
  EXPECT_NE(read_file(dir_ / "agent.prom").find("pgship_backup_runs_total"), std::string::npos);

  // The history survives a restart.
  const auto before = runs().size();
  EXPECT_EQ(stop_daemon(), 0);
  start_daemon({}, "daemon_small");
  EXPECT_GE(runs().size(), before);
  EXPECT_EQ(get("/health").result_int(), 200) << "the last runs succeeded";
}

TEST_F(AgentDaemon, ItsRunsSendEventsAndReportsAndItDeliversWhatACommandBesideItKept) {
  start();
  const auto recorded = dir_ / "hooks.jsonl";
  const auto hooks = start_listening_process(
      std::string(PGSHIP_SOURCE_DIR) + "/tests/support/recording_http_server.py",
      {recorded.string()}, {}, dir_ / "hooks.log");
  struct stopper {
    int pid;
    ~stopper() { stop_process(pid, SIGTERM, 5s); }
  } stop_hooks{hooks.pid};
  const auto base = "http://127.0.0.1:" + std::to_string(hooks.port);
  // The events the service took at `path`: (event, id, run_id).
  const auto taken = [&](const std::string& path) {
    std::vector<json::object> out;
    std::ifstream in(recorded);
    for (std::string line; std::getline(in, line);) {
      const auto request = json::parse(line).as_object();
      if (request.at("target").as_string() != path) continue;
      out.push_back(json::parse(request.at("body").as_string()).as_object());
    }
    return out;
  };
  start_daemon({{"CONTROL_TOKEN", "control-secret"},
                {"WEBHOOK_URL", base + "/daemon"},
                {"WEBHOOK_EVENTS", "backup.*"}},
               "daemon_small");
  const auto started = post("/api/v1/backups", {{"Authorization", "Bearer control-secret"}});
  ASSERT_EQ(started.result_int(), 202) << started.body();
  const auto run_id = std::string(json::parse(started.body()).at("run_id").as_string());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) == "ok"; }, 120s));
  ASSERT_TRUE(wait_until(
      [&] {
        const auto got = taken("/daemon");
        return !got.empty() && got.back().at("run_id").as_string() == run_id;
      },
      60s))
      << read_file(dir_ / "agent.log");
  EXPECT_EQ(taken("/daemon").back().at("event").as_string(), "backup.succeeded");
  EXPECT_EQ(metric("pgship_webhook_deliveries_total{result=\"delivered\"}"), 1);
  // Its schedule reached the receiver's status view.
  EXPECT_TRUE(wait_until(
      [&] {
        return http_send(receiver_->port(), {.target = "/api/status",
                                             .headers = {{"Authorization", "Bearer " + token_}}})
                   .body()
                   .find("\"schedule\":\"") != std::string::npos;
      },
      30s));

  // A one-shot command beside it whose service is busy: it exits, its event kept in the spool
  // the daemon holds, and the daemon delivers it on its next look.
  const auto busy =
      run_agent({"backup", "--config",
                 write_config(agent_config("daemon_small", {{"WEBHOOK_URL", base + "/status-503"},
                                                            {"WEBHOOK_EVENTS", "backup.*"}}),
                              "oneshot.env")
                     .string()});
  ASSERT_EQ(busy.exit_code, 0) << busy.err;
  EXPECT_NE(busy.err.find("kept for the next run"), std::string::npos) << busy.err;
  const auto kept = taken("/status-503");
  ASSERT_FALSE(kept.empty());
  const auto kept_id = std::string(kept.front().at("id").as_string());
  EXPECT_TRUE(wait_until(
      [&] {
        for (const auto& e : taken("/daemon"))
          if (e.at("id").as_string() == kept_id) return true;
        return false;
      },
      120s))
      << read_file(dir_ / "agent.log");
}

TEST_F(AgentDaemon, PostStartsARunWithTheTokenAndASecondPostWhileItRunsIs409) {
  start();
  start_daemon({{"CONTROL_TOKEN", "control-secret"}, {"LOG_FORMAT", "json"}}, "daemon_big");
  EXPECT_EQ(post("/api/v1/backups").result_int(), 401);
  EXPECT_EQ(post("/api/v1/backups", {{"Authorization", "Bearer wrong"}}).result_int(), 401);
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer control-secret"}};
  EXPECT_EQ(post("/api/v1/backups", auth, R"({"databases":["nope"]})").result_int(), 400);

  const auto first = post("/api/v1/backups", auth);
  ASSERT_EQ(first.result_int(), 202) << first.body();
  const auto run_id = std::string(json::parse(first.body()).as_object().at("run_id").as_string());
  EXPECT_EQ(std::string(first[boost::beast::http::field::location]), "/api/v1/runs/" + run_id);
  const auto second = post("/api/v1/backups", auth);
  EXPECT_EQ(second.result_int(), 409) << second.body();
  EXPECT_NE(second.body().find(run_id), std::string::npos);
  EXPECT_EQ(result_of(run_id), "running");
  EXPECT_EQ(metric("pgship_run_in_progress"), 1);
  // Live progress while it runs: the stage and the bytes it has moved so far.
  EXPECT_TRUE(wait_until(
      [&] {
        const auto body = get("/api/v1/runs/" + run_id).body();
        return body.find("\"stage\":\"dump\"") != std::string::npos &&
               body.find("\"bytes\":0,") == std::string::npos;
      },
      30s))
      << get("/api/v1/runs/" + run_id).body();

  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 120s));
  EXPECT_EQ(result_of(run_id), "ok") << get("/api/v1/runs/" + run_id).body();
  const auto record = get("/api/v1/runs/" + run_id).body();
  for (const char* stage : {"preflight", "dump", "verify", "upload", "rotate"})
    EXPECT_NE(record.find(std::string("\"name\":\"") + stage + "\""), std::string::npos) << record;
  EXPECT_NE(record.find("\"trigger\":\"api\""), std::string::npos);
  // JSON logs: every line of the run carries its run_id and database as fields.
  int run_lines = 0;
  std::istringstream log(read_file(dir_ / "agent.log"));
  for (std::string line; std::getline(log, line);) {
    if (line.find("\"msg\":\"dumped ") == std::string::npos &&
        line.find("\"msg\":\"verified") == std::string::npos &&
        line.find("\"msg\":\"uploaded to") == std::string::npos &&
        line.find("\"msg\":\"stored ") == std::string::npos) {
      continue;
    }
    ++run_lines;
    EXPECT_NE(line.find("\"run_id\":\"" + run_id + "\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"database\":\"daemon_big\""), std::string::npos) << line;
    EXPECT_NO_THROW(json::parse(line)) << line;
  }
  EXPECT_EQ(run_lines, 4);
  EXPECT_EQ(metric("pgship_run_in_progress"), 0);
}

TEST_F(AgentDaemon, AFailedRunTurnsHealthTo503AndLastStatusTo0) {
  start();
  start_daemon({{"POSTGRES_PASSWORD", "wrong-password"}}, "daemon_small");
  const auto started = post("/api/v1/backups");
  ASSERT_EQ(started.result_int(), 202) << started.body();
  const auto run_id = std::string(json::parse(started.body()).as_object().at("run_id").as_string());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 30s));
  EXPECT_EQ(result_of(run_id), "failed");
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 503) << health.body();
  EXPECT_NE(health.body().find("password authentication failed"), std::string::npos)
      << health.body();
  EXPECT_EQ(metric("pgship_backup_last_status{database=\"daemon_small\"}"), 0);
  const auto hc = healthcheck();
  EXPECT_EQ(hc.exit_code, 1) << hc.describe();
  EXPECT_NE(hc.out.find("failing"), std::string::npos) << hc.out;
  EXPECT_EQ(metric("pgship_backup_runs_total{database=\"daemon_small\",result=\"failed\"}"), 1);
}

TEST_F(AgentDaemon, SigtermDuringADumpExitsWithin10sAndLeavesNoPartialNorPgDump) {
  start();
  start_daemon({}, "daemon_big");
  const auto started = post("/api/v1/backups");
  ASSERT_EQ(started.result_int(), 202) << started.body();
  const auto run_id = std::string(json::parse(started.body()).as_object().at("run_id").as_string());
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& f : partial_files()) {
          std::error_code ec;
          if (f.ends_with(".dump") && stdfs::file_size(backup_dir() / ".partial" / f, ec) > 0 &&
              !ec) {
            return true;
          }
        }
        return false;
      },
      30s));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(stop_daemon(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_TRUE(partial_files().empty());
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_EQ(pg_dumps_of("daemon_big"), 0);

  start_daemon({}, "daemon_big");
  EXPECT_EQ(result_of(run_id), "cancelled");
}

// A cancelled run is not a failed backup: not in its summary line, not in /health after a
// restart (which reflects the last finished backup of each database).
TEST_F(AgentDaemon, ACancelledRunIsCancelledInTheLogAndHealthAfterARestart) {
  start();
  start_daemon({}, "daemon_big");
  auto run = [&] {
    const auto started = post("/api/v1/backups");
    EXPECT_EQ(started.result_int(), 202) << started.body();
    return std::string(json::parse(started.body()).as_object().at("run_id").as_string());
  };
  const auto good = run();
  ASSERT_TRUE(wait_until([&] { return result_of(good) != "running"; }, 120s));
  ASSERT_EQ(result_of(good), "ok");
  const auto cancelled = run();
  ASSERT_TRUE(wait_until([&] { return !partial_files().empty(); }, 30s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(stop_daemon(SIGTERM), 0);
  const std::string log = read_file(dir_ / "agent.log");
  std::istringstream lines(log);
  bool summary = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("run_id=" + cancelled) == std::string::npos) continue;
    EXPECT_EQ(line.find("result=failed"), std::string::npos) << line;
    if (line.find("result=cancelled") != std::string::npos) summary = true;
  }
  EXPECT_TRUE(summary) << log;

  start_daemon({}, "daemon_big");
  EXPECT_EQ(result_of(cancelled), "cancelled");
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 200) << health.body();
  EXPECT_NE(health.body().find("\"status\":\"ok\""), std::string::npos) << health.body();
}

TEST_F(AgentDaemon, HealthTurns503WhenTheLastSuccessIsOlderThanHealthMaxAge) {
  start();
  start_daemon({{"HEALTH_MAX_AGE", "3s"}, {"RUN_ON_STARTUP", "true"}}, "daemon_small");
  ASSERT_TRUE(wait_until(
      [&] { return get("/health").body().find("\"status\":\"ok\"") != std::string::npos; }, 30s));
  EXPECT_EQ(get("/health").result_int(), 200);
  ASSERT_TRUE(wait_until([&] { return get("/health").result_int() == 503; }, 10s));
  const auto stale = get("/health");
  EXPECT_NE(stale.body().find("is older than 3 s"), std::string::npos) << stale.body();
}

// `pgship-agent backup` from a timer or by hand beside the daemon (same BACKUP_DIR): its run
// is in the daemon's history and health, and the metrics read BACKUP_DIR's manifests.
TEST_F(AgentDaemon, AOneShotBackupBesideTheDaemonCountsForItsHistoryHealthAndMetrics) {
  start();
  start_daemon({{"METRICS_TEXTFILE", (dir_ / "agent.prom").string()}}, "daemon_small");
  const std::string db = "{database=\"daemon_small\"}";
  EXPECT_NE(get("/health").body().find("\"status\":\"starting\""), std::string::npos);
  EXPECT_EQ(metric("pgship_backup_unshipped" + db), 0) << "exists at zero from start-up";
  EXPECT_EQ(metric("pgship_backup_last_local_timestamp_seconds" + db), 0);

  const auto one_shot = run_agent({"backup", "--config", config_.string()});
  ASSERT_EQ(one_shot.exit_code, 0) << one_shot.describe();

  const auto listed = runs();
  ASSERT_EQ(listed.size(), 1u) << json::serialize(listed);
  const auto& run = listed.at(0).as_object();
  EXPECT_EQ(run.at("trigger"), "manual");
  EXPECT_EQ(run.at("kind"), "backup");
  EXPECT_EQ(run.at("result"), "ok");
  const auto body = get("/api/v1/runs").body();
  EXPECT_EQ(body.find("E-"), std::string::npos) << "plain decimals: " << body;
  const auto health = get("/health");
  EXPECT_EQ(health.result_int(), 200) << health.body();
  EXPECT_NE(health.body().find("\"status\":\"ok\""), std::string::npos) << health.body();

  EXPECT_EQ(metric("pgship_backup_last_status" + db), 1);
  EXPECT_GT(metric("pgship_backup_last_success_timestamp_seconds" + db), 1.7e9);
  EXPECT_GT(metric("pgship_backup_last_local_timestamp_seconds" + db), 1.7e9);
  EXPECT_EQ(metric("pgship_backup_unshipped" + db), 0);
  // The one-shot wrote the textfile: the timestamps, no frozen age.
  const auto textfile = read_file(dir_ / "agent.prom");
  EXPECT_NE(textfile.find("pgship_backup_unshipped" + db + " 0"), std::string::npos) << textfile;
  EXPECT_NE(textfile.find("pgship_backup_last_local_timestamp_seconds" + db), std::string::npos);
  EXPECT_EQ(textfile.find("pgship_backup_last_success_age_seconds"), std::string::npos);

  // A backup whose upload failed (as its manifest records) is unshipped at the next scrape.
  const auto manifests = files_ending(backup_dir(), ".json");
  ASSERT_EQ(manifests.size(), 1u);
  auto manifest = read_file(backup_dir() / manifests.at(0));
  const std::string uploaded = "\"status\":\"uploaded\"";
  ASSERT_NE(manifest.find(uploaded), std::string::npos) << manifest;
  manifest.replace(manifest.find(uploaded), uploaded.size(), "\"status\":\"failed\"");
  write_file(backup_dir() / manifests.at(0), manifest);
  EXPECT_EQ(metric("pgship_backup_unshipped" + db), 1);

  // The daemon's own next run keeps the one-shot's record.
  const auto started = post("/api/v1/backups");
  ASSERT_EQ(started.result_int(), 202) << started.body();
  const auto run_id = std::string(json::parse(started.body()).as_object().at("run_id").as_string());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 60s));
  EXPECT_EQ(runs().size(), 2u) << get("/api/v1/runs").body();
}

TEST_F(AgentDaemon, EachRunHasItsOwnLogFileNamedInItsRecord) {
  start();
  start_daemon({{"LOG_FORMAT", "json"}}, "daemon_small");
  const auto started = post("/api/v1/backups");
  ASSERT_EQ(started.result_int(), 202) << started.body();
  const auto run_id = std::string(json::parse(started.body()).as_object().at("run_id").as_string());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 60s));
  const auto record = json::parse(get("/api/v1/runs/" + run_id).body()).as_object();
  ASSERT_TRUE(record.contains("log_file")) << json::serialize(record);
  const stdfs::path file(std::string(record.at("log_file").as_string()));
  EXPECT_EQ(file, backup_dir() / "logs" / (run_id + ".log"));
  const std::string text = read_file(file);
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto o = json::parse(line).as_object();
    EXPECT_EQ(o.at("run_id").as_string(), run_id) << line;
  }
  EXPECT_GE(n, 4) << text;
  EXPECT_NE(text.find("backup run succeeded"), std::string::npos) << text;
  EXPECT_EQ(text.find("http request"), std::string::npos) << "another request's line: " << text;
}

TEST_F(AgentDaemon, SighupReloadsTheScheduleAndABadConfigKeepsTheOldOne) {
  start();
  start_daemon({}, "daemon_small");  // yearly: nothing runs on its own
  auto config = agent_config(
      "daemon_small",
      {{"HEALTHCHECK_PORT", "0"}, {"LISTEN_ADDR", "127.0.0.1"}, {"SCHEDULE", "*/2 * * * * *"}});
  write_config(config, "daemon.env");
  ::kill(daemon_.pid, SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] {
        for (const auto& r : runs())
          if (r.as_object().at("trigger") == "schedule" && r.as_object().at("result") == "ok")
            return true;
        return false;
      },
      20s))
      << get("/api/v1/runs").body();

  config["SCHEDULE"] = "61 * * * *";
  write_config(config, "daemon.env");
  ::kill(daemon_.pid, SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] { return read_file(dir_ / "agent.log").find("reload refused") != std::string::npos; },
      10s));
  EXPECT_EQ(get("/livez").result_int(), 200);
  const auto before = runs().size();
  EXPECT_TRUE(wait_until([&] { return runs().size() > before; }, 20s))
      << "the old schedule keeps running";
}

TEST_F(AgentDaemon, ARealPrometheusScrapesIt) {
  start();
  // With the old tool's names too: a real Prometheus ingests them beside the new ones.
  start_daemon({{"SCHEDULE", "*/2 * * * * *"}, {"LEGACY_METRICS", "on"}}, "daemon_small");
  const auto prom_port = free_port();
  write_file(dir_ / "prometheus.yml",
             "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: pgship-agent\n    static_configs:\n"
             "      - targets: ['127.0.0.1:" +
                 std::to_string(daemon_.port) + "']\n");
  // Prometheus logs to stderr and serves until killed: a plain child process.
  const pid_t prom = ::fork();
  if (prom == 0) {
    const int log = ::open((dir_ / "prometheus.log").c_str(), O_WRONLY | O_CREAT, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    const std::string config = "--config.file=" + (dir_ / "prometheus.yml").string();
    const std::string storage = "--storage.tsdb.path=" + (dir_ / "prometheus-data").string();
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(prom_port);
    ::execlp("prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(), nullptr);
    ::_exit(127);
  }
  const auto query = [&](const std::string& promql) {
    try {
      return http_send(prom_port, {.target = "/api/v1/query?query=" + promql}).body();
    } catch (const std::exception&) {
      return std::string();
    }
  };
  const bool up = wait_until(
      [&] {
        const auto body = query("up");
        return body.find("\"job\":\"pgship-agent\"") != std::string::npos &&
               body.find("\"1\"]") != std::string::npos;
      },
      60s);
  const bool runs = wait_until(
      [&] {
        return query("pgship_backup_runs_total").find("\"result\":\"ok\"") != std::string::npos;
      },
      60s);
  const auto last_status = query("pgship_backup_last_status");
  std::string legacy;
  wait_until(
      [&] {
        legacy = query("mt5_backup_last_timestamp");
        return legacy.find("\"ts\":\"20") != std::string::npos;
      },
      30s);
  const auto legacy_status = query("mt5_backup_status");
  stop_process(prom, SIGTERM, 10s);
  EXPECT_TRUE(up) << query("up") << read_file(dir_ / "prometheus.log");
  EXPECT_TRUE(runs) << query("pgship_backup_runs_total");
  EXPECT_NE(last_status.find("\"daemon_small\""), std::string::npos) << last_status;
  EXPECT_NE(legacy.find("\"database\":\"daemon_small\""), std::string::npos) << legacy;
  EXPECT_NE(legacy_status.find("\"1\"]"), std::string::npos) << legacy_status;
}

}  // namespace
}  // namespace pgship::test

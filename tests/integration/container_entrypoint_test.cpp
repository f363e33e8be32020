// The container's entrypoint run directly on the host, as the image runs it: no config file,
// only environment variables, secrets through *_FILE. The receiver and the agent come up,
// the agent's first run (RUN_ON_STARTUP) ships a backup, and both HEALTHCHECKs pass.
// (No Docker engine runs on CI machines; this covers what the image adds around the binaries.)

#include <thread>

#include <gtest/gtest.h>
#include <signal.h>

#include "http_client.hpp"
#include "listening_process.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

const std::string entrypoint = std::string(PGSHIP_SOURCE_DIR) + "/deploy/docker/entrypoint.sh";

TEST(ContainerEntrypoint, AgentAndReceiverComeUpFromEnvironmentOnlyAndShipABackup) {
  auto& pg = pg_cluster::shared();
  pg.create_database("container_db");
  pg.load_sample_data("container_db", 2000);
  temp_dir dir;
  write_file(dir / "secrets" / "token", "container-token-81f0\n");
  write_file(dir / "secrets" / "pgpass", pg.password() + "\n");
  const std::map<std::string, std::string> binaries = {
      {"PGSHIP_AGENT_BIN", PGSHIP_AGENT_BIN}, {"PGSHIP_RECEIVER_BIN", PGSHIP_RECEIVER_BIN}};

  auto receiver_env = binaries;
  receiver_env.insert({{"PGSHIP_ROLE", "receiver"},
                       {"BACKUP_API_TOKEN_FILE", (dir / "secrets" / "token").string()},
                       {"STORAGE_DIR", (dir / "storage").string()},
                       {"PORT", "0"},
                       {"LISTEN_ADDR", "127.0.0.1"},
                       {"MIN_FREE_BYTES", "1M"}});
  const auto receiver = start_listening_process(entrypoint, {}, receiver_env, dir / "receiver.log");

  auto agent_env = binaries;
  agent_env.insert({{"PGSHIP_ROLE", "agent"},
                    {"POSTGRES_HOST", pg.host()},
                    {"POSTGRES_PORT", std::to_string(pg.port())},
                    {"POSTGRES_DB", "container_db"},
                    {"POSTGRES_USER", pg.user()},
                    {"POSTGRES_PASSWORD_FILE", (dir / "secrets" / "pgpass").string()},
                    {"BACKUP_DIR", (dir / "backups").string()},
                    {"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(receiver.port)},
                    {"BACKUP_API_TOKEN_FILE", (dir / "secrets" / "token").string()},
                    {"RUN_ON_STARTUP", "true"},
                    {"HEALTHCHECK_PORT", "0"},
                    {"LISTEN_ADDR", "127.0.0.1"}});
  const auto agent = start_listening_process(entrypoint, {}, agent_env, dir / "agent.log");

  // HEALTHCHECK as the image runs it: the entrypoint with `healthcheck`, the same environment.
  auto agent_check_env = agent_env;
  agent_check_env["HEALTHCHECK_PORT"] = std::to_string(agent.port);
  const auto agent_healthy = [&] {
    return run_process({entrypoint, "healthcheck"}, {.env = agent_check_env}).exit_code == 0;
  };
  bool healthy = false;
  for (int i = 0; i < 300 && !healthy; ++i) {
    healthy = agent_healthy();
    if (!healthy) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(healthy) << read_file(dir / "agent.log");

  auto receiver_check_env = receiver_env;
  receiver_check_env["PORT"] = std::to_string(receiver.port);
  const auto rx = run_process({entrypoint, "healthcheck"}, {.env = receiver_check_env});
  EXPECT_EQ(rx.exit_code, 0) << rx.describe();

  // /health says "starting" (200) until the first run ends: wait for that run.
  std::string runs;
  for (int i = 0; i < 300; ++i) {
    runs = http_send(agent.port, {.target = "/api/v1/runs"}).body();
    if (runs.find("\"result\":\"running\"") == std::string::npos &&
        runs.find("\"result\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(runs.find("\"trigger\":\"startup\""), std::string::npos) << runs;
  EXPECT_NE(runs.find("\"result\":\"ok\""), std::string::npos) << runs;
  EXPECT_TRUE(agent_healthy()) << "healthy after the first backup";

  std::vector<std::string> stored;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir / "storage" / "default" / "container_db", ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".dump") stored.push_back(it->path().filename().string());
  }
  EXPECT_EQ(stored.size(), 1u) << read_file(dir / "agent.log");
  // No secret in either log.
  for (const char* log : {"agent.log", "receiver.log"}) {
    const auto text = read_file(dir / log);
    EXPECT_EQ(text.find("container-token-81f0"), std::string::npos) << log;
    EXPECT_EQ(text.find(pg.password()), std::string::npos) << log;
  }

  EXPECT_EQ(stop_process(agent.pid, SIGTERM, 15s), 0);
  EXPECT_EQ(stop_process(receiver.pid, SIGTERM, 15s), 0);
  EXPECT_EQ(run_process({"sh", entrypoint}, {.env = {{"PGSHIP_ROLE", "nonsense"}}}).exit_code, 2);
}

}  // namespace
}  // namespace pgship::test

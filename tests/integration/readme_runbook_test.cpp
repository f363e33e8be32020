// The README's restore runbook, run exactly as printed: every command of its sh blocks (the
// `export` lines aside, which stand for the reader's values and get this test's) against a
// real receiver holding a backup named as in the README, and a real PostgreSQL. A runbook
// that drifts from the code fails here, not on a recovery night.

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "agent_fixture.hpp"
#include "http_client.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

const std::string backup_name = "app-20261121-030000.dump";

// The command lines of the sh blocks in the README section that starts with `heading`.
std::vector<std::string> runbook_commands(const std::string& heading) {
  std::ifstream in(stdfs::path(PGSHIP_SOURCE_DIR) / "README.md");
  std::vector<std::string> out;
  bool in_section = false;
  bool in_block = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("### ") || line.starts_with("## ")) in_section = line == heading;
    if (!in_section) continue;
    const auto text = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (text.starts_with("```")) {
      in_block = !in_block && text == "```sh";
      continue;
    }
    if (in_block && !text.empty() && !text.starts_with("export ")) out.push_back(text);
  }
  return out;
}

class ReadmeRunbook : public agent_fixture {};

TEST_F(ReadmeRunbook, TheRestoreRunbookWorksAsPrinted) {
  auto& pg = pg_cluster::shared();
  pg.create_database("app");
  pg.load_sample_data("app", 2000);
  start();

  // The backup the README names, made by pg_dump and uploaded as the agent would name it.
  const auto dump = dir_ / "made.dump";
  const auto made = run_process({(pg.bin_dir() / "pg_dump").string(), "-Fc", "--host=" + pg.host(),
                                 "--port=" + std::to_string(pg.port()), "--username=" + pg.user(),
                                 "--dbname=app", "--file=" + dump.string()},
                                {.env = {{"PGPASSWORD", pg.password()}}});
  ASSERT_TRUE(made.ok()) << made.describe();
  const auto uploaded =
      http_send(receiver_->port(),
                {.method = boost::beast::http::verb::post,
                 .target = "/api/backup/upload",
                 .headers = {{"Authorization", "Bearer " + token_}, {"X-Backup-Name", backup_name}},
                 .body = read_file(dump)});
  ASSERT_EQ(uploaded.result_int(), 201) << uploaded.body();

  const auto commands = runbook_commands("### Restore runbook");
  ASSERT_GE(commands.size(), 7u) << "the runbook lost its commands";
  const auto work = dir_ / "recovery";
  stdfs::create_directories(work);
  const std::string agent_dir = stdfs::path(PGSHIP_AGENT_BIN).parent_path().string();
  const std::map<std::string, std::string> env = {
      {"PATH", agent_dir + ":" + pg.bin_dir().string() + ":" + std::getenv("PATH")},
      {"BACKUP_API_URL", receiver_->url()},
      {"BACKUP_API_TOKEN", token_},
      {"BACKUP_DIR", (work / "agent").string()},
      {"POSTGRES_HOST", pg.host()},
      {"POSTGRES_PORT", std::to_string(pg.port())},
      {"POSTGRES_USER", pg.user()},
      {"POSTGRES_PASSWORD", pg.password()},
      {"R", receiver_->url()},
      {"TOKEN", token_},
      {"PGHOST", pg.host()},
      {"PGPORT", std::to_string(pg.port())},
      {"PGUSER", pg.user()},
      {"PGPASSWORD", pg.password()},
  };
  std::string outputs;
  for (const auto& command : commands) {
    SCOPED_TRACE(command);
    const auto r = run_process({"bash", "-euo", "pipefail", "-c", command},
                               {.env = env, .timeout = 120s, .cwd = work});
    ASSERT_TRUE(r.ok()) << r.describe() << r.out;
    outputs += r.out;
  }
  EXPECT_NE(outputs.find(backup_name), std::string::npos) << "list shows the backup";
  EXPECT_NE(outputs.find(backup_name + ": OK"), std::string::npos) << "sha256sum -c passed";
  EXPECT_EQ(table_fingerprint("app_restore"), table_fingerprint("app"));
  EXPECT_EQ(table_fingerprint("app_manual"), table_fingerprint("app"));
  pg.drop_database("app_restore");
  pg.drop_database("app_manual");
}

}  // namespace
}  // namespace pgship::test

// The programs as an operator meets them: --help, --version, configuration errors with exit
// code 2, --print-config with secrets redacted.

#include <gtest/gtest.h>

#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

const std::string agent = PGSHIP_AGENT_BIN;
const std::string receiver = PGSHIP_RECEIVER_BIN;

// Lines of text, without the empty last one.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

TEST(Cli, VersionAndHelp) {
  auto v = run_process({agent, "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(v.out.starts_with("pgship-agent ")) << v.out;
  auto h = run_process({agent, "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* word :
       {"run", "backup", "check", "list", "restore", "healthcheck", "--config", "--print-config"}) {
    EXPECT_NE(h.out.find(word), std::string::npos) << word;
  }
  auto sub = run_process({agent, "backup", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  auto rv = run_process({receiver, "--version"});
  EXPECT_TRUE(rv.out.starts_with("pgship-receiver ")) << rv.out;
  auto rh = run_process({receiver, "healthcheck", "--help"});
  EXPECT_EQ(rh.exit_code, 0);
}

TEST(Cli, BadValueIsOneLineNamingKeyValueAndAllowedWithExit2) {
  auto r = run_process({agent, "backup"}, {.env = {{"POSTGRES_DB", "app"},
                                                   {"POSTGRES_USER", "u"},
                                                   {"UPLOAD", "off"},
                                                   {"POSTGRES_PORT", "54x"}}});
  EXPECT_EQ(r.exit_code, 2);
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("POSTGRES_PORT"), std::string::npos);
  EXPECT_NE(err[0].find("\"54x\""), std::string::npos);
  EXPECT_NE(err[0].find("integer from 1 to 65535"), std::string::npos);

  auto rec = run_process({receiver}, {.env = {{"MAX_UPLOAD_BYTES", "12Q"}}});
  EXPECT_EQ(rec.exit_code, 2);
  EXPECT_NE(rec.err.find("MAX_UPLOAD_BYTES=\"12Q\""), std::string::npos) << rec.err;
}

TEST(Cli, MissingRequiredKeyAndUnknownCommandAreConfigErrors) {
  auto r = run_process({agent, "backup"}, {.env = {{"POSTGRES_USER", "u"}, {"UPLOAD", "off"}}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("POSTGRES_DB is required"), std::string::npos) << r.err;

  auto u = run_process({agent, "frobnicate"});
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_NE(u.err.find("unknown command 'frobnicate'"), std::string::npos) << u.err;

  auto o = run_process({agent, "backup", "--no-such-option"});
  EXPECT_EQ(o.exit_code, 2);
}

TEST(Cli, PrintConfigMergesFileEnvAndSecretFilesAndRedactsSecrets) {
  temp_dir dir;
  // The old tool's /etc/default/mt5-backup, as bash would source it.
  write_file(dir / "mt5-backup", R"(# MT5 backup settings
export POSTGRES_HOST="db.internal"
POSTGRES_PORT=6543
POSTGRES_DB=mt5
POSTGRES_USER='backup'
POSTGRES_PASSWORD="file-secret-123"
BACKUP_DIR=/srv/backups   # local copies
KEEP_LOCAL_BACKUPS=5
BACKUP_API_URL=https://backups.example.net
BACKUP_API_TOKEN=token-from-file-456
MAX_RETRIES=4
RETRY_DELAY=10
SOME_OLD_KEY=1
)");
  write_file(dir / "token", "token-from-secret-file-789\n");
  auto r = run_process(
      {agent, "--config", (dir / "mt5-backup").string(), "--print-config"},
      {.env = {{"KEEP_LOCAL_BACKUPS", "7"}, {"BACKUP_API_TOKEN_FILE", (dir / "token").string()}}});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("POSTGRES_HOST=db.internal  # config file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BACKUP_DIR=/srv/backups  # config file"), std::string::npos);
  EXPECT_NE(r.out.find("KEEP_LOCAL_BACKUPS=7  # environment"), std::string::npos);
  EXPECT_NE(r.out.find("BACKUP_API_TOKEN=<redacted>  # BACKUP_API_TOKEN_FILE"), std::string::npos);
  EXPECT_NE(r.out.find("POSTGRES_PASSWORD=<redacted>  # config file"), std::string::npos);
  EXPECT_NE(r.out.find("SCHEDULE=0 3 * * *  # default"), std::string::npos);
  for (const char* secret :
       {"file-secret-123", "token-from-file-456", "token-from-secret-file-789"}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(r.err.find("unknown key SOME_OLD_KEY"), std::string::npos) << r.err;
}

TEST(Cli, UnreadableConfigFileIsExit2) {
  auto r = run_process({agent, "backup", "--config", "/nonexistent/pgship.env"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot read config file /nonexistent/pgship.env"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace pgship::test

namespace pgship::test {
namespace {

// conf/*.env are the documented examples: they must load cleanly and name every key.
void check_example_config(const std::string& program, const std::string& file) {
  const std::string path = std::string(PGSHIP_SOURCE_DIR) + "/conf/" + file;
  auto r = run_process({program, "--config", path, "--print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.err, "") << "no warnings expected for " << file;
  const std::string text = read_file(path);
  for (const auto& line : lines(r.out)) {
    const std::string key = line.substr(0, line.find('='));
    EXPECT_NE(text.find(key + "="), std::string::npos) << key << " is not documented in " << file;
  }
}

TEST(Cli, ExampleConfigsLoadAndDocumentEveryKey) {
  check_example_config(agent, "agent.env");
  check_example_config(receiver, "receiver.env");
}

}  // namespace
}  // namespace pgship::test

// The programs as an operator meets them: --help, --version, configuration errors with exit
// code 2, --print-config with secrets redacted.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

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
}

// --- unknown keys (DESIGN.md "Configuration") ----------------------------------------------

const std::string age_recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

// Exactly one line on stderr, naming `name` and suggesting `suggested`, exit code 2.
void expect_unknown_key(const process_result& r, const std::string& name,
                        const std::string& suggested) {
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_NE(err[0].find("unknown key " + name), std::string::npos) << err[0];
  EXPECT_NE(err[0].find("did you mean " + suggested + "?"), std::string::npos) << err[0];
}

// An agent configuration that would back up (UPLOAD=off, no receiver) into `backups`.
std::string agent_file(const std::filesystem::path& backups, const std::string& extra) {
  return "POSTGRES_HOST=127.0.0.1\nPOSTGRES_DB=app\nPOSTGRES_USER=u\nUPLOAD=off\nBACKUP_DIR=" +
         backups.string() + "\n" + extra;
}

bool empty_or_missing(const std::filesystem::path& dir) {
  return !std::filesystem::exists(dir) || std::filesystem::is_empty(dir);
}

TEST(Cli, AnUnknownKeyInTheConfigFileStopsTheAgentBeforeAnything) {
  temp_dir dir;
  const auto backups = dir / "backups";
  write_file(dir / "agent.env", agent_file(backups, "ENCRYPT_RECIPIENT=" + age_recipient + "\n"));
  const auto r = run_process({agent, "backup", "--config", (dir / "agent.env").string()});
  expect_unknown_key(r, "ENCRYPT_RECIPIENT in " + (dir / "agent.env").string(),
                     "ENCRYPT_RECIPIENTS");
  EXPECT_TRUE(empty_or_missing(backups)) << "nothing is dumped, in clear or otherwise";

  write_file(dir / "agent.env", agent_file(backups, "KEEP_LOCAL_BACKUP=7\n"));
  expect_unknown_key(run_process({agent, "backup", "--config", (dir / "agent.env").string()}),
                     "KEEP_LOCAL_BACKUP", "KEEP_LOCAL_BACKUPS");
  // A receiver key is no agent key either (the nearest agent key is named).
  write_file(dir / "agent.env", agent_file(backups, "STORAGE_DIR=/srv\n"));
  const auto other =
      run_process({agent, "--print-config", "--config", (dir / "agent.env").string()});
  EXPECT_EQ(other.exit_code, 2) << other.describe();
  EXPECT_NE(other.err.find("STORAGE_DIR in " + (dir / "agent.env").string() +
                           ": a key of the other pgship program"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(other.out, "") << "nothing printed before the error";
  EXPECT_TRUE(empty_or_missing(backups));
}

TEST(Cli, AMistakenPgshipKeyInTheEnvironmentStopsTheAgentBeforeAnything) {
  temp_dir dir;
  const auto backups = dir / "backups";
  write_file(dir / "agent.env", agent_file(backups, ""));
  const std::vector<std::string> argv = {agent, "backup", "--config", (dir / "agent.env").string()};
  expect_unknown_key(run_process(argv, {.env = {{"ENCRYPT_RECIPIENT", age_recipient}}}),
                     "ENCRYPT_RECIPIENT in the environment", "ENCRYPT_RECIPIENTS");
  expect_unknown_key(run_process(argv, {.env = {{"ENCRYPTION_RECIPIENTS", age_recipient}}}),
                     "ENCRYPTION_RECIPIENTS", "ENCRYPT_RECIPIENTS");
  expect_unknown_key(run_process(argv, {.env = {{"KEEP_LOCAL_BACKUP", "7"}}}), "KEEP_LOCAL_BACKUP",
                     "KEEP_LOCAL_BACKUPS");
  EXPECT_TRUE(empty_or_missing(backups));
}

TEST(Cli, AMistakenPgshipKeyStopsTheReceiverToo) {
  temp_dir dir;
  const std::map<std::string, std::string> base = {{"STORAGE_DIR", (dir / "store").string()},
                                                   {"BACKUP_API_TOKEN", "t"}};
  auto env = base;
  env["STORAGE_DIRR"] = "/srv";
  expect_unknown_key(run_process({receiver, "--print-config"}, {.env = env}), "STORAGE_DIRR",
                     "STORAGE_DIR");
  env = base;
  env["ENCRYPT_RECIPIENT"] = age_recipient;
  expect_unknown_key(run_process({receiver, "--print-config"}, {.env = env}), "ENCRYPT_RECIPIENT",
                     "ENCRYPT_RECIPIENTS");
  write_file(dir / "receiver.env", "PORT=0\nKEEP_DAY=7\n");
  expect_unknown_key(
      run_process({receiver, "--config", (dir / "receiver.env").string()}, {.env = base}),
      "KEEP_DAY", "KEEP_DAYS");
  write_file(dir / "receiver.env", "PORT=0\nPOSTGRES_DB=app\n");
  const auto other =
      run_process({receiver, "--config", (dir / "receiver.env").string()}, {.env = base});
  EXPECT_EQ(other.exit_code, 2) << other.describe();
  EXPECT_NE(other.err.find("POSTGRES_DB in " + (dir / "receiver.env").string() +
                           ": a key of the other pgship program"),
            std::string::npos)
      << other.err;
  EXPECT_TRUE(empty_or_missing(dir / "store"));
}

// One .env for the postgres container, the agent and the receiver, given to each as its
// environment, with what Docker and Kubernetes add.
std::map<std::string, std::string> shared_env(const std::filesystem::path& dir) {
  return {{"POSTGRES_INITDB_ARGS", "--data-checksums"},
          {"POSTGRES_HOST_AUTH_METHOD", "scram-sha-256"},
          {"PGDATA", "/var/lib/postgresql/data/pgdata"},
          {"POSTGRES_DB", "app"},
          {"POSTGRES_USER", "app"},
          {"POSTGRES_PASSWORD", "pw"},
          {"BACKUP_API_URL", "http://receiver:9101"},
          {"BACKUP_API_TOKEN", "shared-token"},
          {"BACKUP_DIR", (dir / "backups").string()},
          {"STORAGE_DIR", (dir / "store").string()},
          {"KEEP_DAYS", "7"},
          {"SCRUB_INTERVAL", "1d"},
          {"S3_REGION", "eu-central-1"},
          {"ENCRYPT_RECIPIENTS", age_recipient},
          {"PGSHIP_ROLE", "agent"},
          {"PGSHIP_RECEIVER_PORT", "tcp://10.0.0.2:9101"},
          {"PGSHIP_RECEIVER_PORT_9101_TCP_ADDR", "10.0.0.2"},
          {"PGSHIP_RECEIVER_SERVICE_HOST", "10.0.0.2"},
          {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
          // Service links of Services named s3 and webhook in the same namespace.
          {"S3_SERVICE_HOST", "10.0.0.3"},
          {"S3_PORT", "tcp://10.0.0.3:9000"},
          {"S3_PORT_9000_TCP_ADDR", "10.0.0.3"},
          {"WEBHOOK_SERVICE_PORT_HTTP", "80"},
          {"HOSTNAME", "pgship-agent-0"},
          {"CI", "true"}};
}

TEST(Cli, ASharedEnvFileInTheEnvironmentStillStartsBothPrograms) {
  temp_dir dir;
  const auto env = shared_env(dir.path());
  const auto a = run_process({agent, "--print-config"}, {.env = env});
  EXPECT_EQ(a.exit_code, 0) << a.describe();
  EXPECT_EQ(a.err, "");
  EXPECT_NE(a.out.find("POSTGRES_DB=app  # environment"), std::string::npos) << a.out;
  const auto r = run_process({receiver, "--print-config"}, {.env = env});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("KEEP_DAYS=7  # environment"), std::string::npos) << r.out;
}

TEST(Cli, APasswordInAUrlIsRedactedInPrintConfigAndErrors) {
  const std::string secret = "url-secret-91c4";
  auto a = run_process({agent, "--print-config"},
                       {.env = {{"POSTGRES_DB", "app"},
                                {"POSTGRES_USER", "u"},
                                {"BACKUP_API_URL", "http://pgship:" + secret + "@127.0.0.1:9"}}});
  EXPECT_EQ(a.exit_code, 0) << a.describe();
  EXPECT_NE(a.out.find("BACKUP_API_URL=http://pgship:<redacted>@127.0.0.1:9  # environment"),
            std::string::npos)
      << a.out;
  auto bad = run_process({agent, "--print-config"},
                         {.env = {{"POSTGRES_DB", "app"},
                                  {"POSTGRES_USER", "u"},
                                  {"BACKUP_API_URL", "ftp://pgship:" + secret + "@host"}}});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
  EXPECT_NE(bad.err.find("BACKUP_API_URL=\"ftp://pgship:<redacted>@host\" is invalid"),
            std::string::npos)
      << bad.err;
  auto s3 = run_process({receiver, "--print-config"},
                        {.env = {{"STORAGE_BACKEND", "s3"},
                                 {"S3_ENDPOINT", "http://key:" + secret + "@127.0.0.1:9"},
                                 {"S3_BUCKET", "b"}}});
  EXPECT_NE(s3.out.find("S3_ENDPOINT=http://key:<redacted>@127.0.0.1:9"), std::string::npos)
      << s3.out;
  for (const auto* r : {&a, &bad, &s3}) {
    EXPECT_EQ(r->out.find(secret), std::string::npos) << r->out;
    EXPECT_EQ(r->err.find(secret), std::string::npos) << r->err;
  }
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

// What an operator of the old bash tool meets when moving to pgship, and the traps found doing
// so: honest output, runs as root that leave the service user able to work, the old dumps
// adopted, the textfile with the old metric names, per-run logs, restore --create and list on
// a recovery machine. A real PostgreSQL cluster, real pg_dump/pg_restore, a real receiver;
// promtool and sha256sum judge what they know.

#include <fstream>
#include <regex>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

bool has_ok_line(const std::string& out) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("ok ")) return true;
  }
  return false;
}

class AgentMigration : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("mt5_trading");
    pg.load_sample_data("mt5_trading", 3000);
  }

  std::map<std::string, std::string> config(std::map<std::string, std::string> more = {}) {
    return agent_config("mt5_trading", more);
  }

  // A dump as the old tool made it: `pg_dump -Fc -Z9` and `sha256sum` beside it.
  std::string old_tool_dump(const std::string& stamp) {
    const std::string name = "mt5_trading-" + stamp + ".dump";
    stdfs::create_directories(backup_dir());
    const auto r =
        run_process({(pg().bin_dir() / "pg_dump").string(), "-Fc", "-Z9", "--host=" + pg().host(),
                     "--port=" + std::to_string(pg().port()), "--username=" + pg().user(),
                     "--dbname=mt5_trading", "--file=" + (backup_dir() / name).string()},
                    {.env = {{"PGPASSWORD", pg().password()}}});
    EXPECT_TRUE(r.ok()) << r.describe();
    const auto sum = run_process({"sh", "-c", "sha256sum " + name + " > " + name + ".sha256"},
                                 {.cwd = backup_dir()});
    EXPECT_TRUE(sum.ok()) << sum.describe();
    return name;
  }

  stdfs::path manifest_of(const std::string& name) {
    return backup_dir() / (name.substr(0, name.size() - 5) + ".json");
  }
};

TEST_F(AgentMigration, ARefusedRunNeverPrintsOkAndSaysWhy) {
  start();
  const auto textfile = dir_ / "pgship.prom";
  const auto cfg = write_config(config({{"METRICS_TEXTFILE", textfile.string()}}));
  // Another run holds the lock.
  stdfs::create_directories(backup_dir() / ".partial");
  const int fd = ::open((backup_dir() / ".partial" / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const auto locked = run_agent({"backup", "--config", cfg.string()});
  ::close(fd);
  EXPECT_EQ(locked.exit_code, 42) << locked.out << locked.err;
  EXPECT_FALSE(has_ok_line(locked.out)) << locked.out;
  EXPECT_NE(locked.out.find("another backup run is using"), std::string::npos) << locked.out;
  EXPECT_NE(locked.out.find("NOT RUN mt5_trading"), std::string::npos) << locked.out;
  EXPECT_FALSE(stdfs::exists(textfile)) << "the run holding the lock owns the textfile";

  // BACKUP_DIR that cannot be used (a file where the directory should be): exit 30.
  write_file(dir_ / "not-a-dir", "x");
  const auto unusable =
      run_agent({"backup", "--config",
                 write_config(config({{"BACKUP_DIR", (dir_ / "not-a-dir").string()},
                                      {"METRICS_TEXTFILE", textfile.string()}}),
                              "file.env")
                     .string()});
  EXPECT_EQ(unusable.exit_code, 30) << unusable.out << unusable.err;
  EXPECT_FALSE(has_ok_line(unusable.out)) << unusable.out;
  EXPECT_NE(unusable.out.find("FAILED  mt5_trading  local_io_failed"), std::string::npos)
      << unusable.out;
  // Recorded as the failure it is, never as a success.
  EXPECT_NE(read_file(textfile).find("pgship_backup_last_status{database=\"mt5_trading\"} 0"),
            std::string::npos)
      << read_file(textfile);

  const auto ok = run_agent({"backup", "--config", cfg.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(has_ok_line(ok.out)) << ok.out;
}

TEST_F(AgentMigration, ARunAsRootLeavesBackupDirUsableByTheServiceUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  start();
  // BACKUP_DIR belongs to the service user; the temp dir above it must be traversable.
  stdfs::permissions(
      dir_.path(), stdfs::perms::owner_all | stdfs::perms::group_exec | stdfs::perms::others_exec);
  stdfs::create_directories(backup_dir());
  ASSERT_EQ(::chown(backup_dir().c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  const auto cfg = write_config(config());
  stdfs::permissions(
      cfg, stdfs::perms::owner_read | stdfs::perms::owner_write | stdfs::perms::others_read);

  const auto root_check = run_agent({"check", "--config", cfg.string()});
  EXPECT_NE(root_check.out.find("\u2713 BACKUP_DIR usable"), std::string::npos) << root_check.out;
  const auto as_root = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(as_root.exit_code, 0) << as_root.out << as_root.err;
  EXPECT_NE(as_root.err.find("running as nobody, the owner of BACKUP_DIR"), std::string::npos)
      << as_root.err;
  for (const auto& e : stdfs::recursive_directory_iterator(backup_dir())) {
    struct stat st {};
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody->pw_uid) << e.path() << " is not the service user's";
  }

  const auto as_user = [&](const std::string& command) {
    auto argv = agent_argv({command, "--config", cfg.string()});
    argv.insert(argv.begin(), {"runuser", "-u", "nobody", "--"});
    return run_process(argv, {.timeout = 120s});
  };
  const auto check = as_user("check");
  EXPECT_NE(check.out.find("\u2713 BACKUP_DIR usable"), std::string::npos) << check.out;
  const auto second = as_user("backup");
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(local_dumps().size(), 2u);

  // What an older agent run as root left: `check` as the service user now says so.
  ASSERT_EQ(::chown((backup_dir() / ".partial").c_str(), 0, 0), 0);
  ASSERT_EQ(::chown((backup_dir() / ".partial" / ".lock").c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod((backup_dir() / ".partial" / ".lock").c_str(), 0600), 0);
  const auto bad = as_user("check");
  EXPECT_EQ(bad.exit_code, 43) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("\u2717 BACKUP_DIR usable"), std::string::npos) << bad.out;
}

TEST_F(AgentMigration, OneShotBackupWritesTheTextfileWithTheOldMetricNames) {
  start();
  const auto textfile = dir_ / "textfile" / "pgship.prom";
  stdfs::create_directories(textfile.parent_path());
  const auto cfg =
      write_config(config({{"METRICS_TEXTFILE", textfile.string()}, {"LEGACY_METRICS", "on"}}));
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(stdfs::exists(textfile)) << "a timer-driven one-shot run wrote no textfile";
  const std::string text = read_file(textfile);
  const auto dump = local_dumps().at(0);
  const auto size = std::to_string(stdfs::file_size(backup_dir() / dump));
  EXPECT_NE(text.find("pgship_backup_last_status{database=\"mt5_trading\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("mt5_backup_status{database=\"mt5_trading\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("mt5_backup_db_size_bytes{database=\"mt5_trading\"} " + size),
            std::string::npos)
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("mt5_backup_duration_seconds\\{database=\"mt5_"
                                                 "trading\"\\} [0-9.e+-]+\n")))
      << text;
  EXPECT_TRUE(std::regex_search(
      text, std::regex("mt5_backup_last_timestamp\\{database=\"mt5_trading\",ts=\"20[0-9]{2}-[0-9]"
                       "{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"\\} 1\n")))
      << text;
  std::smatch repo;
  ASSERT_TRUE(std::regex_search(text, repo, std::regex("mt5_backup_repo_size_bytes ([0-9.e+]+)")))
      << text;
  EXPECT_GE(std::stod(repo[1]), std::stod(size));
  // promtool, the Prometheus project's own linter, accepts it.
  const auto lint =
      run_process({"sh", "-c", "promtool check metrics < '" + textfile.string() + "'"});
  EXPECT_TRUE(lint.ok()) << lint.describe() << lint.out;

  // Without LEGACY_METRICS: no mt5_backup_* names.
  const auto plain = write_config(config({{"METRICS_TEXTFILE", textfile.string()}}), "plain.env");
  ASSERT_EQ(run_agent({"backup", "--config", plain.string()}).exit_code, 0);
  EXPECT_EQ(read_file(textfile).find("mt5_backup_"), std::string::npos);
}

TEST_F(AgentMigration, TheOldToolsDumpsAreAdoptedShippedAndRotated) {
  start();
  const auto good = old_tool_dump("20250101-030000");
  const auto bad = old_tool_dump("20250102-030000");
  {
    // A byte flipped in the middle: sha256sum -c would fail it.
    std::fstream f(backup_dir() / bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(stdfs::file_size(backup_dir() / bad) / 2));
    f.put('\x5a');
  }
  const auto cfg = write_config(config({{"KEEP_LOCAL_BACKUPS", "1"}}));
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // The good one: checked, given a manifest marked adopted, shipped, then rotated away
  // locally like any uploaded backup beyond KEEP_LOCAL_BACKUPS.
  const auto stored = stored_dumps("mt5_trading");
  EXPECT_NE(std::find(stored.begin(), stored.end(), good), stored.end()) << r.err;
  EXPECT_NE(r.err.find("adopted the old backup " + good), std::string::npos) << r.err;
  EXPECT_FALSE(stdfs::exists(backup_dir() / good)) << "rotated like any other";
  // The bad one: reported, left alone, never shipped, never deleted.
  EXPECT_NE(r.err.find("cannot adopt the old backup " + bad), std::string::npos) << r.err;
  EXPECT_TRUE(stdfs::exists(backup_dir() / bad));
  EXPECT_TRUE(stdfs::exists(backup_dir() / (bad + ".sha256")));
  EXPECT_FALSE(stdfs::exists(manifest_of(bad)));
  EXPECT_EQ(std::find(stored.begin(), stored.end(), bad), stored.end());
  const auto again = run_agent({"backup", "--config", cfg.string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(stdfs::exists(backup_dir() / bad));

  // With UPLOAD=off an adopted dump is kept under the same rule: its manifest says so.
  const auto local_only = old_tool_dump("20250103-030000");
  const auto off = write_config(
      agent_config("mt5_trading", {{"UPLOAD", "off"}, {"KEEP_LOCAL_BACKUPS", "5"}}), "off.env");
  ASSERT_EQ(run_agent({"backup", "--config", off.string()}).exit_code, 0);
  const auto manifest = read_file(manifest_of(local_only));
  EXPECT_NE(manifest.find("\"adopted\":true"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"status\":\"skipped\""), std::string::npos) << manifest;
}

TEST_F(AgentMigration, RestoreCreateMakesNoDatabaseForABadDownload) {
  start();
  const auto cfg = write_config(config());
  ASSERT_EQ(run_agent({"backup", "--config", cfg.string()}).exit_code, 0);
  const auto name = stored_dumps("mt5_trading").at(0);
  {
    const auto stored = receiver_->storage_dir() / "default" / "mt5_trading" / name;
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(stdfs::file_size(stored) / 2));
    f.put('\x5a');
  }
  const auto r = run_agent({"restore", "--config", cfg.string(), "--id", name, "--target-db",
                            "mt5_never_created", "--create"});
  EXPECT_EQ(r.exit_code, 25) << r.out << r.err;
  EXPECT_EQ(pg().query_value(
                "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'mt5_never_created'"),
            "0");
}

TEST_F(AgentMigration, ListAndRestoreNeedOnlyWhatTheyUse) {
  start();
  ASSERT_EQ(run_agent({"backup", "--config", write_config(config()).string()}).exit_code, 0);
  // A recovery machine: the receiver's address and token, no POSTGRES_DB, no POSTGRES_USER.
  const auto list_cfg = write_config({{"BACKUP_API_URL", receiver_->url()},
                                      {"BACKUP_API_TOKEN", token_},
                                      {"BACKUP_DIR", (dir_ / "recovery").string()}},
                                     "list.env");
  const auto list = run_agent({"list", "--config", list_cfg.string(), "--database", "mt5_trading"});
  EXPECT_EQ(list.exit_code, 0) << list.out << list.err;
  EXPECT_NE(list.out.find(local_dumps().at(0)), std::string::npos) << list.out;
  // restore: the receiver and the target's server, still no POSTGRES_DB.
  auto restore_settings = config();
  restore_settings.erase("POSTGRES_DB");
  restore_settings["BACKUP_DIR"] = (dir_ / "recovery").string();
  const auto restore_cfg = write_config(restore_settings, "restore.env");
  const auto restore =
      run_agent({"restore", "--config", restore_cfg.string(), "--latest", "--database",
                 "mt5_trading", "--target-db", "mt5_recovered", "--create"});
  EXPECT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_EQ(table_fingerprint("mt5_recovered"), table_fingerprint("mt5_trading"));
  pg().drop_database("mt5_recovered");
  // In parallel over the downloaded file: the same rows.
  const auto parallel =
      run_agent({"restore", "--config", restore_cfg.string(), "--latest", "--database",
                 "mt5_trading", "--target-db", "mt5_parallel", "--create", "--jobs", "2"});
  EXPECT_EQ(parallel.exit_code, 0) << parallel.out << parallel.err;
  EXPECT_EQ(table_fingerprint("mt5_parallel"), table_fingerprint("mt5_trading"));
  pg().drop_database("mt5_parallel");
  EXPECT_EQ(run_agent({"restore", "--config", restore_cfg.string(), "--latest", "--target-db", "x",
                       "--jobs", "0"})
                .exit_code,
            2);
  // backup still needs POSTGRES_DB.
  const auto backup = run_agent({"backup", "--config", restore_cfg.string()});
  EXPECT_EQ(backup.exit_code, 2) << backup.err;
  EXPECT_NE(backup.err.find("POSTGRES_DB"), std::string::npos) << backup.err;
}

// A pg_dump stand-in that says something on stderr and then is `body` (a shell snippet).
stdfs::path fake_pg_dump(const stdfs::path& dir, const stdfs::path& real_bin,
                         const std::string& body) {
  stdfs::create_directories(dir);
  const auto wrapper = dir / "pg_dump";
  write_file(wrapper, "#!/bin/sh\ncase \"$1\" in --version) exec '" +
                          (real_bin / "pg_dump").string() + "' --version;; esac\n" +
                          "echo 'pg_dump: warning: a line for the run log' >&2\n" + body + "\n");
  stdfs::permissions(wrapper, stdfs::perms::owner_all);
  std::error_code ec;
  stdfs::create_symlink(real_bin / "pg_restore", dir / "pg_restore", ec);
  return wrapper;
}

TEST_F(AgentMigration, AnEmptyDumpIs16AndAnArchivePgRestoreRejectsIs18) {
  start();
  const auto empty = fake_pg_dump(dir_ / "empty", pg().bin_dir(), "exit 0");
  const auto r16 =
      run_agent({"backup", "--config",
                 write_config(config({{"PG_DUMP_PATH", empty.string()}}), "empty.env").string()});
  EXPECT_EQ(r16.exit_code, 16) << r16.out << r16.err;
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_TRUE(partial_files().empty());

  const auto junk = fake_pg_dump(dir_ / "junk", pg().bin_dir(),
                                 "printf 'PGDMP'; head -c 100000 /dev/zero | tr '\\\\0' 'x'");
  const auto r18 =
      run_agent({"backup", "--config",
                 write_config(config({{"PG_DUMP_PATH", junk.string()}}), "junk.env").string()});
  EXPECT_EQ(r18.exit_code, 18) << r18.out << r18.err;
  EXPECT_NE(r18.out.find("pg_restore --list rejected"), std::string::npos) << r18.out;
  EXPECT_TRUE(local_dumps().empty());
  EXPECT_TRUE(partial_files().empty());
  EXPECT_TRUE(stored_dumps("mt5_trading").empty());
}

TEST_F(AgentMigration, EachRunKeepsItsOwnLogFileWithPgDumpsStderr) {
  start();
  stdfs::create_directories(backup_dir() / "logs");
  const auto old_log = backup_dir() / "logs" / "20250101T030000Z-000000.log";
  const auto recent_log = backup_dir() / "logs" / "20250102T030000Z-000000.log";
  const auto foreign_log = backup_dir() / "logs" / "something-else.log";
  write_file(old_log, "old\n");
  write_file(recent_log, "recent\n");
  write_file(foreign_log, "not ours\n");
  stdfs::last_write_time(old_log, stdfs::file_time_type::clock::now() - 24h * 40);
  stdfs::last_write_time(recent_log, stdfs::file_time_type::clock::now() - 24h * 10);
  stdfs::last_write_time(foreign_log, stdfs::file_time_type::clock::now() - 24h * 40);

  const auto talking = fake_pg_dump(dir_ / "talking", pg().bin_dir(),
                                    "exec '" + (pg().bin_dir() / "pg_dump").string() + "' \"$@\"");
  const auto cfg = write_config(config({{"PG_DUMP_PATH", talking.string()}}));
  const auto r = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(r.err, id, std::regex("run_id=([0-9TZ]+-[0-9a-f]+)"))) << r.err;
  const auto log = backup_dir() / "logs" / (id[1].str() + ".log");
  ASSERT_TRUE(stdfs::exists(log)) << r.err;
  const std::string text = read_file(log);
  EXPECT_NE(text.find("a line for the run log"), std::string::npos) << text;
  EXPECT_NE(text.find("backup run succeeded"), std::string::npos) << text;
  EXPECT_NE(text.find("log_file=" + log.string()), std::string::npos) << text;
  EXPECT_FALSE(stdfs::exists(old_log)) << "older than RUN_LOG_KEEP_DAYS=30";
  EXPECT_TRUE(stdfs::exists(recent_log));
  EXPECT_TRUE(stdfs::exists(foreign_log)) << "RUN_LOG_DIR may hold other files: not ours";
}

}  // namespace
}  // namespace pgship::test

// The WAL stream follows a promotion. A primary A streams to a standby B (pg_basebackup -R);
// the agent streams from B with its slot on B. A stops, B is promoted (timeline 2) and takes
// writes. The receiver must hold 00000002.history, acknowledged before the first unit of
// timeline 2, and timeline 2's units; PostgreSQL alone (deploy/pgship-restore-wal.sh,
// recovery_target_timeline = 'latest') recovers A's base backup across the switch to the rows
// written on B after the promotion.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "curl.hpp"
#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

// A directory every user can read: the recovered cluster's restore_command runs as postgres
// when the tests run as root.
class shared_dir {
 public:
  shared_dir() {
    std::string pattern = "/tmp/pgship-restore-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
    ::chmod(path_.c_str(), 0755);
  }
  ~shared_dir() {
    std::error_code ignored;
    stdfs::remove_all(path_, ignored);
  }
  stdfs::path put(const std::string& name, const std::string& content) {
    write_file(path_ / name, content);
    ::chmod((path_ / name).c_str(), 0644);
    return path_ / name;
  }

 private:
  stdfs::path path_;
};

class WalTimeline : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *standby_; }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "agent log:\n" << read_file(dir_ / "agent.log");
      if (standby_) std::cerr << "standby log:\n" << standby_->server_log();
      if (recovered_) std::cerr << "recovered server log:\n" << recovered_->server_log();
    }
    daemon_fixture::TearDown();
  }

  std::string sql(pg_cluster& server, const std::string& query) {
    return server.query_value("postgres", query);
  }
  // For waits: whether `query` answers `expected` yet; a query that cannot run yet (a table a
  // standby has not replayed, a server between recovery and promotion) is a no.
  bool answers(pg_cluster& server, const std::string& query, const std::string& expected) {
    try {
      return sql(server, query) == expected;
    } catch (const std::exception&) {
      return false;
    }
  }
  pgship::wal::lsn lsn_of(pg_cluster& server, const std::string& query) {
    const auto v = pgship::wal::parse_lsn(sql(server, query));
    if (!v) throw std::runtime_error("not an LSN: " + query);
    return *v;
  }

  std::optional<wire::wal::archive_state> archive(const std::string& system) {
    const auto r =
        curl({"-H", "Authorization: Bearer " + token_, receiver_->url("/api/wal/" + system)});
    if (r.status != 200) return std::nullopt;
    return wire::wal::decode_state(r.body);
  }

  // The end of timeline `t`'s last range in the archive (0 when none).
  pgship::wal::lsn archived_end(const std::string& system, pgship::wal::timeline_id t) {
    const auto state = archive(system);
    if (!state) return 0;
    for (const auto& tl : state->timelines)
      if (tl.timeline == t && !tl.ranges.empty()) return tl.ranges.back().to;
    return 0;
  }

  std::unique_ptr<pg_cluster> primary_;
  std::unique_ptr<pg_cluster> standby_;
  std::unique_ptr<pg_cluster> recovered_;
};

TEST_F(WalTimeline, FollowsThePromotionHistoryFirstAndRecoversAcrossIt) {
  primary_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  standby_ = std::make_unique<pg_cluster>(standby_of(*primary_));
  ASSERT_EQ(sql(*standby_, "SELECT pg_is_in_recovery()"), "t");
  start();
  const auto keygen = run_process({"age-keygen", "-o", (dir_ / "wal.key").string()});
  ASSERT_TRUE(keygen.ok()) << keygen.out;
  const auto recipient = run_process({"age-keygen", "-y", (dir_ / "wal.key").string()});
  ASSERT_TRUE(recipient.ok()) << recipient.out;

  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"},
                {"ENCRYPT_RECIPIENTS", recipient.out.substr(0, recipient.out.find('\n'))}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
      << "the WAL stream from the standby did not come up";
  ASSERT_EQ(sql(*standby_, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgship'"),
            "1")
      << "the agent's slot is on the standby";

  // A's base backup, taken after the slot on B existed: B keeps the WAL from its start on.
  const auto base = dir_ / "base";
  const auto basebackup =
      run_process({(primary_->bin_dir() / "pg_basebackup").string(), "-h", primary_->host(), "-p",
                   std::to_string(primary_->port()), "-U", primary_->user(), "-D", base.string(),
                   "-Ft", "-X", "none", "-c", "fast", "--no-sync"},
                  {.env = {{"PGPASSWORD", primary_->password()}}, .timeout = 300s});
  ASSERT_TRUE(basebackup.ok()) << basebackup.out;

  // Written on A, streamed A → B → the agent.
  primary_->execute("postgres", "CREATE TABLE tl (id int PRIMARY KEY, note text)");
  primary_->execute("postgres",
                    "INSERT INTO tl SELECT g, 'on A ' || repeat(md5(g::text), 8) "
                    "FROM generate_series(1, 3000) g");
  ASSERT_TRUE(
      wait_until([&] { return answers(*standby_, "SELECT count(*) FROM tl", "3000"); }, 60s))
      << "the standby did not replay A's rows";
  const auto system = sql(*primary_, "SELECT system_identifier FROM pg_control_system()");

  // A goes away; B takes over on timeline 2.
  primary_->stop();
  standby_->promote();
  ASSERT_TRUE(
      wait_until([&] { return answers(*standby_, "SELECT pg_is_in_recovery()", "f"); }, 60s));
  ASSERT_EQ(sql(*standby_, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"),
            "00000002");

  standby_->execute("postgres",
                    "INSERT INTO tl SELECT g, 'on B ' || repeat(md5(g::text), 8) "
                    "FROM generate_series(3001, 6000) g");
  standby_->execute("postgres", "INSERT INTO tl VALUES (999999, 'the last commit on B')");
  const auto last_commit = lsn_of(*standby_, "SELECT pg_current_wal_flush_lsn()");
  const auto expected_rows = sql(*standby_, "SELECT count(*) FROM tl");
  const auto expected_sum = sql(*standby_, "SELECT sum(hashtext(note)::bigint + id) FROM tl");

  ASSERT_TRUE(wait_until([&] { return archived_end(system, 2) >= last_commit; }, 120s))
      << "timeline 2 never reached " << pgship::wal::format_lsn(last_commit) << " on the receiver";
  const auto state = archive(system);
  ASSERT_TRUE(state);
  bool history_of_2 = false;
  for (const auto& tl : state->timelines)
    if (tl.timeline == 2) history_of_2 = tl.history;
  EXPECT_TRUE(history_of_2) << "the receiver holds 00000002.history";
  EXPECT_TRUE(state->gaps.empty()) << "no gap across the promotion";

  // The history was acknowledged before the first unit of timeline 2: the receiver stored it
  // (and logged it) first.
  // Line numbers of the receiver's "WAL unit stored" lines for the history and timeline 2.
  std::optional<std::size_t> history_line, first_unit_line;
  {
    std::istringstream lines(receiver_->log());
    std::string line;
    for (std::size_t n = 0; std::getline(lines, line); ++n) {
      if (line.find("WAL unit stored") == std::string::npos) continue;
      if (!history_line && line.find("00000002.history") != std::string::npos) history_line = n;
      if (!first_unit_line && line.find("00000002000000") != std::string::npos) first_unit_line = n;
    }
  }
  ASSERT_TRUE(history_line) << "the receiver stored 00000002.history";
  ASSERT_TRUE(first_unit_line) << "the receiver stored timeline 2's units";
  EXPECT_LT(*history_line, *first_unit_line) << "the history came before timeline 2's WAL";
  const auto history_list =
      curl({"-H", "Authorization: Bearer " + token_,
            receiver_->url("/api/wal/" + system + "/segments/00000002.history")});
  EXPECT_EQ(history_list.status, 200) << history_list.body;
  EXPECT_TRUE(history_list.body.find(" history\n") != std::string::npos) << history_list.body;

  const auto agent_log = read_file(dir_ / "agent.log");
  std::cerr << "followed in COPY: "
            << (agent_log.find("following timeline 2") != std::string::npos ? "yes" : "no") << "\n";

  standby_->kill9();
  EXPECT_EQ(stop_daemon(), 0);

  // Recovery with PostgreSQL alone, from A's base backup, across the switch.
  shared_dir restore;
  const auto script = stdfs::path(PGSHIP_SOURCE_DIR) / "deploy" / "pgship-restore-wal.sh";
  const auto token_file = restore.put("token", token_);
  const auto key_file = restore.put("wal.key", read_file(dir_ / "wal.key"));
  const auto restore_command = "env PGSHIP_URL=" + receiver_->url() + " PGSHIP_SYSTEM=" + system +
                               " PGSHIP_TOKEN_FILE=" + token_file.string() +
                               " PGSHIP_IDENTITY=" + key_file.string() + " " + script.string() +
                               " %f %p";
  recovered_ = std::make_unique<pg_cluster>(pg_cluster_options{
      .durable_commits = true,
      .populate =
          [&](const stdfs::path& data) {
            const auto untar =
                run_process({"tar", "-xf", (base / "base.tar").string(), "-C", data.string()});
            if (!untar.ok()) throw std::runtime_error("tar: " + untar.out);
            write_file(data / "recovery.signal", "");
            std::ofstream(data / "postgresql.auto.conf", std::ios::app)
                << "restore_command = '" << restore_command << "'\n"
                << "recovery_target_timeline = 'latest'\n";
          },
      .password = primary_->password()});
  ASSERT_TRUE(
      wait_until([&] { return answers(*recovered_, "SELECT pg_is_in_recovery()", "f"); }, 180s))
      << "recovery did not finish";
  EXPECT_EQ(sql(*recovered_, "SELECT count(*) FROM tl"), expected_rows);
  EXPECT_EQ(sql(*recovered_, "SELECT sum(hashtext(note)::bigint + id) FROM tl"), expected_sum);
  EXPECT_EQ(sql(*recovered_, "SELECT note FROM tl WHERE id = 999999"), "the last commit on B");
  const auto recovered_log = recovered_->server_log();
  EXPECT_NE(recovered_log.find("restored log file \"00000002.history\" from archive"),
            std::string::npos)
      << "recovery read timeline 2's history from the archive";
  EXPECT_EQ(recovered_log.find("restore_command"), std::string::npos)
      << "no restore_command failed";
}

}  // namespace
}  // namespace pgship::test

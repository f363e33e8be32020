// `pgship-agent wal-fetch` as PostgreSQL's restore_command (issue 29): a fresh cluster started
// from a tar base backup recovers every acknowledged commit from the receiver through it, with
// segments fetched ahead into PITR_SPOOL; asked directly, it hands a partial segment over
// padded, serves a spooled segment with the receiver gone, exits 1 only for a file the archive
// does not have, and 126 (recovery stops) for missing settings, a refused token and a unit
// whose bytes changed on the receiver.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <pgship/common/wal/wal_names.hpp>

#include "process.hpp"
#include "wal_source_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class WalFetch : public wal_source_fixture {
 protected:
  // No prefetch runs on the spool (its lock is free).
  bool prefetch_done() const {
    const int fd = ::open((spool_ / ".prefetch.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    return free;
  }

  // wal-fetch's settings file, as restore --pitr writes one: readable by the postgres user
  // the recovering server runs as.
  stdfs::path fetch_config(const std::string& token, const std::string& extra = "") {
    return files_.put("fetch-" + std::to_string(++configs_) + ".env",
                      "BACKUP_API_URL=" + receiver_->url() + "\nBACKUP_API_TOKEN=" + token +
                          "\nAGE_IDENTITY_FILE=" + key_file_.string() + "\nPITR_SYSTEM=" + system_ +
                          "\nPITR_SPOOL=" + spool_.string() + "\nLOG_LEVEL=warn\n" + extra);
  }

  process_result fetch(const stdfs::path& config, const std::string& file,
                       const stdfs::path& into) {
    return run_process(
        {PGSHIP_AGENT_BIN, "wal-fetch", file, into.string(), "--config", config.string()});
  }

  shared_dir files_;
  stdfs::path spool_ = files_.writable_dir("spool");
  stdfs::path key_file_;
  std::string system_;
  int configs_ = 0;
};

TEST_F(WalFetch, RecoveryThroughWalFetchHoldsEveryAcknowledgedCommit) {
  source_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  start();
  const auto recipient = new_wal_key();
  key_file_ = files_.put("wal.key", read_file(dir_ / "wal.key"), 0644);
  ASSERT_TRUE(start_streaming(recipient)) << "the WAL stream did not come up";
  const auto base_tar = take_tar_base_backup(*source_, dir_ / "base");

  // Several 1 MiB segments after the base backup, the last commit in one far from full.
  source_->execute("postgres", "CREATE TABLE fetched (id int PRIMARY KEY, note text)");
  for (int batch = 0; batch < 8; ++batch) {
    source_->execute("postgres",
                     "INSERT INTO fetched SELECT g, repeat(md5(g::text), 8) FROM "
                     "generate_series(" +
                         std::to_string(batch * 2000 + 1) + ", " +
                         std::to_string(batch * 2000 + 2000) + ") g");
  }
  // Then a few small commits apart: the stream seals each in a unit of its own.
  for (int i = 1; i <= 6; ++i) {
    source_->execute("postgres",
                     "INSERT INTO fetched VALUES (" + std::to_string(900000 + i) + ", 'small')");
    std::this_thread::sleep_for(300ms);
  }
  source_->execute("postgres", "INSERT INTO fetched VALUES (999999, 'the last commit')");
  const auto last_commit =
      pgship::wal::parse_lsn(sql(*source_, "SELECT pg_current_wal_flush_lsn()"));
  ASSERT_TRUE(last_commit);
  const auto expected_rows = sql(*source_, "SELECT count(*) FROM fetched");
  const auto expected_sum = sql(*source_, "SELECT sum(hashtext(note)::bigint + id) FROM fetched");
  system_ = sql(*source_, "SELECT system_identifier FROM pg_control_system()");
  ASSERT_TRUE(wait_until(
      [&] { return metric("pgship_wal_durable_lsn_bytes") >= static_cast<double>(*last_commit); },
      120s));
  source_->kill9();
  EXPECT_EQ(stop_daemon(), 0);

  const auto config = fetch_config(token_);
  recovered_ = std::make_unique<wal_recovery>(
      base_tar, std::string(PGSHIP_AGENT_BIN) + " wal-fetch %f %p --config " + config.string(),
      source_->password());
  ASSERT_TRUE(recovered_->wait_promoted(180s)) << "recovery did not finish";
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT count(*) FROM fetched"), expected_rows);
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT sum(hashtext(note)::bigint + id) FROM fetched"),
            expected_sum);
  EXPECT_EQ(sql(recovered_->cluster(), "SELECT note FROM fetched WHERE id = 999999"),
            "the last commit");
  const auto log = recovered_->cluster().server_log();
  const auto last_segment =
      pgship::wal::segment_name(pgship::wal::segment_of(1, *last_commit - 1, 1 << 20), 1 << 20);
  EXPECT_NE(log.find("restored log file \"" + last_segment + "\" from archive"), std::string::npos)
      << "the last, partial segment came from the archive";
  recovered_.reset();

  // Asked directly. The partial last segment comes back padded to the segment size.
  const auto out = dir_ / "asked";
  const auto whole = fetch(config, last_segment, out);
  EXPECT_EQ(whole.exit_code, 0) << whole.out << whole.err;
  EXPECT_EQ(stdfs::file_size(out), 1u << 20);
  // Its units (many: one sealed every 100 ms) were fetched side by side, each written at its
  // offset: the bytes are the server's own up to the last commit.
  std::size_t units = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(receiver_->storage_dir() / ".wal"))
    if (e.path().filename().string().starts_with(last_segment + ".") &&
        e.path().extension() != ".json")
      ++units;
  EXPECT_GT(units, 1u) << "a segment of one unit would not fetch side by side";
  const auto upto = static_cast<std::size_t>(*last_commit % (1 << 20));
  EXPECT_EQ(read_file(out).substr(0, upto),
            read_file(source_->data_dir() / "pg_wal" / last_segment).substr(0, upto));
  // The first segment after the base backup: its successors are fetched ahead into the spool.
  const auto first = *pgship::wal::parse_segment_name(last_segment, 1 << 20);
  const auto early = pgship::wal::segment_name({1, first.number - 5}, 1 << 20);
  const auto next = pgship::wal::segment_name({1, first.number - 4}, 1 << 20);
  for (const auto& e : stdfs::directory_iterator(spool_))
    stdfs::remove(e.path());
  EXPECT_EQ(fetch(config, early, out).exit_code, 0);
  // The prefetch goes on in a process of its own after the call returned (PostgreSQL replays
  // meanwhile); it holds the spool's lock while it runs.
  EXPECT_TRUE(wait_until([&] { return prefetch_done(); }, 60s));
  EXPECT_TRUE(stdfs::exists(spool_ / next)) << "the next complete segment was fetched ahead";
  EXPECT_FALSE(stdfs::exists(spool_ / last_segment)) << "a partial segment is never spooled";
  // A file the archive never had, and the files PostgreSQL asks for that are never archived.
  EXPECT_EQ(fetch(config, "0000000100000000000000FF", out).exit_code, 1);
  EXPECT_EQ(fetch(config, "00000002.history", out).exit_code, 1);
  EXPECT_EQ(fetch(config, last_segment + ".partial", out).exit_code, 1);
  // Settings that cannot work and a refused token stop recovery (126), never end it (1).
  const auto no_system = files_.put("no-system.env", "BACKUP_API_URL=" + receiver_->url() +
                                                         "\nBACKUP_API_TOKEN=" + token_ + "\n");
  const auto refused = fetch(no_system, early, out);
  EXPECT_EQ(refused.exit_code, 126) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("PITR_SYSTEM"), std::string::npos) << refused.err;
  const auto wrong_token = fetch(fetch_config("not-the-token"), early, out);
  EXPECT_EQ(wrong_token.exit_code, 126) << wrong_token.out << wrong_token.err;
  EXPECT_EQ(wrong_token.err.find("not-the-token"), std::string::npos) << "no secret in errors";
  // With the receiver gone, a spooled segment is still served; one that is not stops recovery.
  receiver_->stop();
  EXPECT_EQ(fetch(config, next, out).exit_code, 0) << "served from the spool";
  EXPECT_FALSE(stdfs::exists(spool_ / next)) << "taken out of the spool";
  EXPECT_EQ(fetch(config, early, out).exit_code, 126) << "not spooled, receiver down";
}

TEST_F(WalFetch, AUnitWhoseBytesChangedOnTheReceiverStopsRecovery) {
  source_ = std::make_unique<pg_cluster>(pg_cluster_options{.initdb_args = {"--wal-segsize=1"}});
  start();
  new_wal_key();
  key_file_ = files_.put("wal.key", read_file(dir_ / "wal.key"), 0644);
  ASSERT_TRUE(start_streaming("")) << "the WAL stream did not come up";
  source_->execute("postgres", "CREATE TABLE t AS SELECT g FROM generate_series(1, 50000) g");
  source_->execute("postgres", "SELECT pg_switch_wal()");
  const auto flushed = pgship::wal::parse_lsn(sql(*source_, "SELECT pg_current_wal_flush_lsn()"));
  ASSERT_TRUE(flushed);
  ASSERT_TRUE(wait_until(
      [&] { return metric("pgship_wal_durable_lsn_bytes") >= static_cast<double>(*flushed); },
      120s));
  system_ = sql(*source_, "SELECT system_identifier FROM pg_control_system()");
  EXPECT_EQ(stop_daemon(), 0);

  // A unit, one bit flipped where it is stored.
  stdfs::path victim;
  for (const auto& e : stdfs::recursive_directory_iterator(receiver_->storage_dir() / ".wal")) {
    if (e.is_regular_file() && pgship::wal::parse_unit_name(e.path().filename().string())) {
      victim = e.path();
      break;
    }
  }
  ASSERT_FALSE(victim.empty()) << "a stored unit";
  auto bytes = read_file(victim);
  bytes[bytes.size() / 2] ^= 0x01;
  write_file(victim, bytes);
  const auto out = dir_ / "asked";
  const auto broken = fetch(fetch_config(token_), victim.parent_path().filename().string(), out);
  EXPECT_EQ(broken.exit_code, 126) << broken.out << broken.err;
  EXPECT_NE(broken.err.find("WAL unit " + victim.filename().string()), std::string::npos)
      << broken.err;
  EXPECT_FALSE(stdfs::exists(out)) << "nothing handed over";
}

}  // namespace
}  // namespace pgship::test

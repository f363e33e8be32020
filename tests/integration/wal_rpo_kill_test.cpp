// RPO under crashes (label `faults`): writers commit rows on a source with fsync and durable
// commits while its postmaster is killed with kill -9 at least 20 times mid-load and restarted;
// the daemon streams its WAL (zstd + age, WAL_ACK_INTERVAL=200ms) to a receiver and reconnects
// after each crash. The last kill leaves the source down. A fresh cluster then recovers with
// PostgreSQL alone (pg_basebackup + deploy/pgship-restore-wal.sh) and must hold every commit
// the server acknowledged at an LSN at or below the highest durable position the agent ever
// reported, and no row that was never written. Commits acknowledged past that position may or
// may not be there. Every wait is on a condition with a generous deadline, never on a speed.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <pgship/common/wal/wal_names.hpp>

#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "wal_recovery.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
using lsn = std::uint64_t;

constexpr int writer_count = 6;
constexpr int kill_count = 20;

// What one writer did: every id it tried to commit, and the commits the server acknowledged
// with the WAL flush position read right after each COMMIT on the same connection (at or past
// the commit record's end, since a durable commit returns only once its WAL is flushed).
struct writer_log {
  std::vector<std::int64_t> attempted;
  std::vector<std::pair<std::int64_t, lsn>> acknowledged;
  std::atomic<std::size_t> acknowledged_count{0};
};

// One writer: a connection that commits one row per transaction until `stop`, reconnecting
// whenever the server is gone. Ids are writer-unique: writer * 1e9 + n.
void write_rows(std::string conninfo, int writer, const std::atomic<bool>& stop, writer_log& log) {
  std::int64_t n = 0;
  while (!stop) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      PQfinish(c);
      std::this_thread::sleep_for(50ms);
      continue;
    }
    // The crash's "terminating connection" notices are expected: not worth a line each.
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    while (!stop && PQstatus(c) == CONNECTION_OK) {
      const std::int64_t id = writer * 1'000'000'000LL + ++n;
      log.attempted.push_back(id);
      const auto sql = "BEGIN; INSERT INTO rpo VALUES (" + std::to_string(id) + ", repeat(md5('" +
                       std::to_string(id) + "'), 8)); COMMIT; SELECT pg_current_wal_flush_lsn()";
      PGresult* r = PQexec(c, sql.c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        if (const auto at = pgship::wal::parse_lsn(PQgetvalue(r, 0, 0))) {
          log.acknowledged.emplace_back(id, *at);
          ++log.acknowledged_count;
        }
      }
      PQclear(r);
    }
    PQfinish(c);
  }
}

class WalRpoKill : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *source_; }

  void TearDown() override {
    stop_load();
    if (HasFailure() && recovered_)
      std::cerr << "recovered server log:\n" << recovered_->cluster().server_log();
    daemon_fixture::TearDown();
  }

  void start_load() {
    for (int w = 0; w < writer_count; ++w) {
      logs_.push_back(std::make_unique<writer_log>());
      writers_.emplace_back(write_rows, source_->conninfo(), w + 1, std::cref(stop_writers_),
                            std::ref(*logs_.back()));
    }
    sampler_ = std::thread([this] {
      while (!stop_sampler_) {
        try {
          const double d = metric("pgship_wal_durable_lsn_bytes");
          if (d > static_cast<double>(highest_durable_)) highest_durable_ = static_cast<lsn>(d);
          ++samples_;
        } catch (const std::exception&) {
          // The daemon is stopping: the last value stands.
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }

  void stop_load() {
    stop_writers_ = true;
    for (auto& t : writers_)
      if (t.joinable()) t.join();
    stop_sampler_ = true;
    if (sampler_.joinable()) sampler_.join();
  }

  std::size_t acknowledged() const {
    std::size_t total = 0;
    for (const auto& l : logs_)
      total += l->acknowledged_count;
    return total;
  }

  // After a crash: pg_ctl start refuses while the dead postmaster's children still hold its
  // shared memory, so try again until they are gone.
  void restart_source() {
    for (int attempt = 1;; ++attempt) {
      try {
        source_->start();
        return;
      } catch (const std::exception&) {
        if (attempt == 150) throw;
        std::this_thread::sleep_for(200ms);
      }
    }
  }

  std::unique_ptr<pg_cluster> source_;
  std::unique_ptr<wal_recovery> recovered_;
  std::vector<std::unique_ptr<writer_log>> logs_;
  std::vector<std::thread> writers_;
  std::thread sampler_;
  std::atomic<bool> stop_writers_{false}, stop_sampler_{false};
  std::atomic<lsn> highest_durable_{0};
  std::atomic<int> samples_{0};
};

TEST_F(WalRpoKill, EveryCommitAtOrBelowTheDurablePositionSurvivesTwentyCrashes) {
  source_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  ASSERT_EQ(source_->query_value("postgres", "SHOW fsync"), "on");
  start();
  const auto key_file = dir_ / "wal.key";
  const auto keygen = run_process({"age-keygen", "-o", key_file.string()});
  ASSERT_TRUE(keygen.ok()) << keygen.out;
  const auto recipient = run_process({"age-keygen", "-y", key_file.string()});
  ASSERT_TRUE(recipient.ok()) << recipient.out;
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"},
                {"ENCRYPT_RECIPIENTS", recipient.out.substr(0, recipient.out.find('\n'))}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
      << "the WAL stream did not come up";

  // The slot exists: the WAL from this base backup's start on is streamed.
  const auto base_tar = take_tar_base_backup(*source_, dir_ / "base");
  const auto system =
      source_->query_value("postgres", "SELECT system_identifier FROM pg_control_system()");
  source_->execute("postgres", "CREATE TABLE rpo (id bigint PRIMARY KEY, payload text NOT NULL)");

  start_load();
  const auto load_started = std::chrono::steady_clock::now();
  std::mt19937 random(std::random_device{}());
  int kills = 0;
  for (int round = 1; round <= kill_count; ++round) {
    // Each round the agent must be streaming again and have shipped what was committed since
    // the restart; then the crash comes at a random point of the load.
    const auto before = acknowledged();
    ASSERT_TRUE(wait_until([&] { return acknowledged() >= before + 20; }, 60s))
        << "round " << round << ": the writers committed nothing";
    const auto flushed = pgship::wal::parse_lsn(
        source_->query_value("postgres", "SELECT pg_current_wal_flush_lsn()"));
    ASSERT_TRUE(flushed);
    ASSERT_TRUE(wait_until([&] { return highest_durable_ >= *flushed; }, 120s))
        << "round " << round << ": the agent did not ship " << pgship::wal::format_lsn(*flushed)
        << " (durable " << pgship::wal::format_lsn(highest_durable_) << ")";
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 700));
    source_->kill9();
    ++kills;
    if (round < kill_count) restart_source();
  }
  std::cout << "kill -9 of the postmaster mid-load: " << kills << " times in "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                load_started)
                   .count()
            << " s\n";

  // The source stays down. What the agent sealed before the last crash may still ship: wait
  // until the durable position stops moving.
  stop_writers_ = true;
  for (auto& t : writers_)
    t.join();
  writers_.clear();
  lsn settled = highest_durable_;
  for (int quiet = 0, waited = 0; quiet < 30 && waited < 600; ++waited) {
    std::this_thread::sleep_for(100ms);
    quiet = highest_durable_ == settled ? quiet + 1 : 0;
    settled = highest_durable_;
  }
  stop_sampler_ = true;
  sampler_.join();
  EXPECT_EQ(stop_daemon(), 0);
  const lsn durable = highest_durable_;
  std::cout << "highest durable LSN the agent reported: " << pgship::wal::format_lsn(durable)
            << " (" << samples_ << " samples every 100 ms)\n";

  // Recovery with PostgreSQL alone. It asks the receiver for units faster than its default
  // RATE_LIMIT (20r/s) lets through: the restore script must wait out the 429s, not fail.
  const auto identity = read_file(key_file);
  recovered_ = std::make_unique<wal_recovery>(
      base_tar, wal_archive_access{receiver_->url(), system, token_, identity},
      source_->password());
  ASSERT_TRUE(recovered_->wait_promoted(300s)) << "recovery did not finish";
  auto& copy = recovered_->cluster();
  EXPECT_EQ(copy.query_value("postgres",
                             "SELECT count(*) FROM rpo WHERE payload <> repeat(md5(id::text), 8)"),
            "0")
      << "every recovered row holds what was written";
  std::unordered_set<std::int64_t> recovered;
  {
    std::istringstream ids(
        copy.query_value("postgres", "SELECT string_agg(id::text, ' ' ORDER BY id) FROM rpo"));
    for (std::int64_t id; ids >> id;)
      recovered.insert(id);
  }

  std::size_t acked = 0, covered = 0, covered_missing = 0, beyond = 0, beyond_recovered = 0;
  std::unordered_set<std::int64_t> attempted;
  for (const auto& log : logs_) {
    attempted.insert(log->attempted.begin(), log->attempted.end());
    for (const auto& [id, at] : log->acknowledged) {
      ++acked;
      const bool there = recovered.contains(id);
      if (at <= durable) {
        ++covered;
        if (!there) {
          if (++covered_missing <= 10)
            ADD_FAILURE() << "commit " << id << " acknowledged at " << pgship::wal::format_lsn(at)
                          << " <= durable " << pgship::wal::format_lsn(durable)
                          << " is not in the recovered copy";
        }
      } else {
        ++beyond;
        if (there) ++beyond_recovered;
      }
    }
  }
  std::size_t never_written = 0;
  for (const auto id : recovered)
    if (!attempted.contains(id)) ++never_written;

  std::cout << "commits acknowledged: " << acked << "; at or below the durable LSN: " << covered
            << ", of which missing from the recovered copy: " << covered_missing
            << "; past it: " << beyond << " (" << beyond_recovered
            << " recovered anyway); rows recovered: " << recovered.size()
            << ", never written: " << never_written << "; the receiver rate-limited the recovery: "
            << (receiver_->log().find("rate limited") != std::string::npos ? "yes" : "no") << "\n";
  EXPECT_EQ(kills, kill_count);
  EXPECT_GT(covered, 0u) << "the check covered some commits";
  EXPECT_EQ(covered_missing, 0u);
  EXPECT_EQ(never_written, 0u) << "a row no writer tried to commit";
}

}  // namespace
}  // namespace pgship::test

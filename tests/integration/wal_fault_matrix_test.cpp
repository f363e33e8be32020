// The WAL stream's fault matrix (ctest label `faults`). A primary A streams to a standby B
// (1 MiB segments); the agent streams from B (its slot on B) through one fault_proxy and ships
// through another to a receiver whose STORAGE_DIR is a small tmpfs. A load thread inserts a row
// and switches segments every ~40 ms until at least 1000 segments are durable. Meanwhile, in a
// shuffled order: the agent and the receiver are killed with kill -9 and restarted, both proxies
// cut connections, the receiver's disk fills up (507s) and is freed, and B is promoted once (A
// stopped, the switches move to B). A sampler reads B's slot restart_lsn THEN the receiver's
// contiguous durable end every 100 ms: the slot must never be ahead of what the receiver holds
// (durable only grows, so that order makes the check race-free). At the end `wal verify` finds
// no gap, and PostgreSQL alone recovers A's base backup across the switch to B's last row.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "curl.hpp"
#include "daemon_fixture.hpp"
#include "fault_proxy.hpp"
#include "free_port.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "small_tmpfs.hpp"
#include "wal_recovery.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
using pgship::wal::format_lsn;
using pgship::wal::lsn;

constexpr std::uint64_t segment_size = 1 << 20;
constexpr std::uint64_t segments_wanted = 1000;

// One libpq connection that reconnects when its server went away; a query's first value, or
// nullopt when the server cannot answer now.
class pg_link {
 public:
  explicit pg_link(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~pg_link() { close(); }
  pg_link(const pg_link&) = delete;
  pg_link& operator=(const pg_link&) = delete;

  void retarget(std::string conninfo) {
    close();
    conninfo_ = std::move(conninfo);
  }

  std::optional<std::string> value(const std::string& sql) {
    if (!connect()) return std::nullopt;
    PGresult* r = PQexec(conn_, sql.c_str());
    std::optional<std::string> out;
    const auto status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
      out = PQgetvalue(r, 0, 0);
    else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
      out = "";
    PQclear(r);
    if (PQstatus(conn_) != CONNECTION_OK) close();
    return out;
  }

 private:
  bool connect() {
    if (conn_ != nullptr) return true;
    conn_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      close();
      return false;
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return true;
  }
  void close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

// What the receiver holds of one system.
struct archive_summary {
  lsn contiguous_end = 0;  // the highest end of a timeline's first range
  std::uint64_t segments = 0;
  std::size_t ranges = 0;
  std::size_t gaps = 0;
};

class WalFaultMatrix : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *standby_; }

  void TearDown() override {
    stop_threads();
    if (HasFailure() && standby_) std::cerr << "standby log:\n" << standby_->server_log();
    daemon_fixture::TearDown();
  }

  void stop_threads() {
    stop_load_ = true;
    stop_sampler_ = true;
    if (load_.joinable()) load_.join();
    if (sampler_.joinable()) sampler_.join();
  }

  std::map<std::string, std::string> daemon_settings() {
    return {{"WAL_STREAM", "on"},
            {"WAL_ACK_INTERVAL", "200ms"},
            {"COMPRESSION", "zstd"},
            {"POSTGRES_PORT", std::to_string(pg_proxy_->port())},
            {"BACKUP_API_URL", "http://127.0.0.1:" + std::to_string(receiver_proxy_->port())}};
  }

  // The receiver's state, read directly (not through the proxy); nullopt while it is down.
  std::optional<archive_summary> archive() {
    const auto r =
        curl({"-m", "10", "-H", "Authorization: Bearer " + token_,
              "http://127.0.0.1:" + std::to_string(receiver_port_) + "/api/wal/" + system_});
    if (r.status != 200) return std::nullopt;
    const auto state = wire::wal::decode_state(r.body);
    if (!state) return std::nullopt;
    archive_summary s;
    s.gaps = state->gaps.size();
    for (const auto& tl : state->timelines) {
      if (tl.ranges.empty()) continue;
      s.contiguous_end = std::max(s.contiguous_end, tl.ranges.front().to);
      s.ranges += tl.ranges.size();
      for (const auto& range : tl.ranges)
        s.segments += (range.to + segment_size - 1) / segment_size - range.from / segment_size;
    }
    return s;
  }

  // WAL units the receiver refused for lack of space, by its log (since its last start).
  std::size_t refusals() {
    const auto log = receiver_->log();
    std::size_t n = 0;
    for (auto at = log.find("below MIN_FREE_BYTES"); at != std::string::npos;
         at = log.find("below MIN_FREE_BYTES", at + 1))
      ++n;
    return n;
  }

  lsn flush_lsn_of_writer() {
    const auto text = writer_->query_value("postgres", "SELECT pg_current_wal_lsn()");
    return *pgship::wal::parse_lsn(text);
  }

  // Waits until the receiver holds everything the writer had written when called.
  bool caught_up(std::chrono::milliseconds limit) {
    const auto target = flush_lsn_of_writer();
    return wait_until(
        [&] {
          const auto s = archive();
          return s && s->contiguous_end >= target;
        },
        limit);
  }

  // A row and a segment switch every ~40 ms on whichever server takes writes now.
  void start_load() {
    load_ = std::thread([this] {
      pg_link link(writer_conninfo());
      std::string target = writer_conninfo();
      while (!stop_load_) {
        const auto now = writer_conninfo();
        if (now != target) {
          target = now;
          link.retarget(target);
        }
        if (target.empty()) {  // mid-promotion: no server takes writes
          std::this_thread::sleep_for(40ms);
          continue;
        }
        const auto id = std::to_string(++rows_attempted_);
        if (link.value("INSERT INTO fm VALUES (" + id + "); SELECT pg_switch_wal()")) ++switches_;
        std::this_thread::sleep_for(40ms);
      }
    });
  }

  std::string writer_conninfo() {
    std::lock_guard lock(writer_mutex_);
    return writer_conninfo_;
  }

  // Every 100 ms: the slot's restart_lsn on B, THEN the receiver's contiguous durable end.
  void start_sampler() {
    sampler_ = std::thread([this] {
      pg_link link(standby_->conninfo());
      while (!stop_sampler_) {
        std::this_thread::sleep_for(100ms);
        const auto restart =
            link.value("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgship'");
        if (!restart || restart->empty()) continue;
        const auto restart_lsn = pgship::wal::parse_lsn(*restart);
        if (!restart_lsn) continue;
        const auto held = archive();
        if (!held) continue;
        ++samples_;
        if (*restart_lsn > held->contiguous_end) {
          std::lock_guard lock(violations_mutex_);
          if (violations_.size() < 10)
            violations_.push_back("slot restart_lsn " + format_lsn(*restart_lsn) +
                                  " > receiver durable " + format_lsn(held->contiguous_end));
          ++violation_count_;
        }
      }
    });
  }

  std::unique_ptr<pg_cluster> primary_;
  std::unique_ptr<pg_cluster> standby_;
  pg_cluster* writer_ = nullptr;
  std::unique_ptr<fault_proxy> pg_proxy_, receiver_proxy_;
  unsigned short receiver_port_ = 0;
  std::string system_;

  std::mutex writer_mutex_;
  std::string writer_conninfo_;
  std::thread load_, sampler_;
  std::atomic<bool> stop_load_{false}, stop_sampler_{false};
  std::atomic<std::int64_t> rows_attempted_{0}, switches_{0};
  std::atomic<int> samples_{0}, violation_count_{0};
  std::mutex violations_mutex_;
  std::vector<std::string> violations_;
};

enum class fault { kill_agent, kill_receiver, cut_database, cut_receiver, fill_disk, promote };

TEST_F(WalFaultMatrix, ThousandSegmentsThroughKillsCutsAFullDiskAndAPromotion) {
  const auto started = std::chrono::steady_clock::now();
  small_tmpfs disk(dir_ / "disk", "96m");
  if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";

  primary_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
  standby_ = std::make_unique<pg_cluster>(standby_of(*primary_));
  writer_ = primary_.get();
  writer_conninfo_ = primary_->conninfo();
  system_ = primary_->query_value("postgres", "SELECT system_identifier FROM pg_control_system()");

  receiver_port_ = free_port();
  start({{"STORAGE_DIR", (disk.path() / "storage").string()},
         {"PORT", std::to_string(receiver_port_)},
         {"RATE_LIMIT", "2000r/s"},
         {"RATE_BURST", "2000"}});
  pg_proxy_ = std::make_unique<fault_proxy>(standby_->port());
  receiver_proxy_ = std::make_unique<fault_proxy>(receiver_port_);

  start_daemon(daemon_settings(), "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
      << "the WAL stream from the standby did not come up";
  primary_->execute("postgres", "CREATE TABLE fm (id bigint)");
  ASSERT_TRUE(caught_up(120s)) << "the first WAL never reached the receiver";
  // A's base backup, taken once the slot on B holds the WAL from its start on.
  const auto base_tar = take_tar_base_backup(*primary_, dir_ / "base");

  start_sampler();
  start_load();

  std::vector<fault> plan;
  for (int i = 0; i < 4; ++i) {
    plan.push_back(fault::kill_agent);
    plan.push_back(fault::kill_receiver);
    plan.push_back(fault::cut_database);
    plan.push_back(fault::cut_receiver);
  }
  plan.push_back(fault::fill_disk);
  std::mt19937 random(std::random_device{}());
  std::shuffle(plan.begin(), plan.end(), random);
  // The promotion comes in the middle.
  plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(plan.size() / 2), fault::promote);

  int agent_kills = 0, receiver_kills = 0, disk_fills = 0;
  std::size_t full_disk_refusals = 0;
  bool promoted = false;
  for (std::size_t step = 0; step < plan.size(); ++step) {
    // Some load between faults, at a random point.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 1500));
    switch (plan[step]) {
      case fault::kill_agent:
        // Its next database connection is cut too, at a random point of its start-up.
        pg_proxy_->cut_after(100 + random() % 2000, 1);
        stop_daemon(SIGKILL);
        ++agent_kills;
        start_daemon(daemon_settings(), "postgres");
        break;
      case fault::kill_receiver:
        receiver_->stop(SIGKILL);
        ++receiver_kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 1000));
        receiver_->restart();
        ASSERT_EQ(receiver_->port(), receiver_port_);
        break;
      case fault::cut_database:
        // The replication connection mid-stream, and the next one at a random point.
        pg_proxy_->cut_after(100 + random() % 4000, 1);
        pg_proxy_->cut_open();
        break;
      case fault::cut_receiver:
        receiver_proxy_->cut_after(200 + random() % 20000, 2);
        receiver_proxy_->cut_open();
        break;
      case fault::fill_disk: {
        disk.fill_leaving("filler", 256 << 10);
        ++disk_fills;
        // The agent gets 507s (the receiver says so) while the writer moves 20 segments on.
        const auto at = flush_lsn_of_writer();
        ASSERT_TRUE(wait_until(
            [&] { return refusals() > 0 && flush_lsn_of_writer() >= at + 20 * segment_size; },
            120s))
            << "the receiver refused no WAL unit for lack of space";
        full_disk_refusals += refusals();
        std::filesystem::remove(disk.path() / "filler");
        break;
      }
      case fault::promote: {
        {
          std::lock_guard lock(writer_mutex_);
          writer_conninfo_.clear();
        }
        // B has replayed what A wrote: A stops with a shutdown checkpoint B receives.
        primary_->stop();
        standby_->promote();
        ASSERT_TRUE(wait_until(
            [&] { return standby_->query_value("postgres", "SELECT pg_is_in_recovery()") == "f"; },
            60s));
        writer_ = standby_.get();
        {
          std::lock_guard lock(writer_mutex_);
          writer_conninfo_ = standby_->conninfo();
        }
        promoted = true;
        break;
      }
    }
    // Each fault is recovered from before the next: what was written reaches the receiver.
    ASSERT_TRUE(caught_up(180s)) << "step " << step << ": the stream did not catch up";
  }
  ASSERT_TRUE(promoted);

  // The load goes on until the archive holds enough segments.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = archive();
        return s && s->segments >= segments_wanted;
      },
      300s))
      << "the archive never held " << segments_wanted << " segments";
  stop_load_ = true;
  load_.join();
  ASSERT_TRUE(caught_up(180s)) << "the last rows did not reach the receiver";
  stop_sampler_ = true;
  sampler_.join();
  EXPECT_EQ(stop_daemon(), 0);

  const auto held = archive();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->gaps, 0u);

  auto config = agent_config("postgres", daemon_settings());
  config["BACKUP_API_URL"] = receiver_->url();
  config["POSTGRES_PORT"] = std::to_string(standby_->port());
  const auto file = write_config(config, "verify.env");
  const auto verify = run_agent({"wal", "verify", "--config", file.string()}, 120s);
  EXPECT_EQ(verify.exit_code, 0) << verify.describe() << verify.out;
  EXPECT_TRUE(verify.out.starts_with("no gaps")) << verify.out;

  // PostgreSQL alone recovers A's base backup across the switch to B's last rows.
  const std::string rows_query = "SELECT count(*) || ' ' || max(id) FROM fm";
  const auto rows_on_b = standby_->query_value("postgres", rows_query);
  wal_recovery recovered(base_tar, wal_archive_access{receiver_->url(), system_, token_, ""},
                         primary_->password());
  EXPECT_TRUE(recovered.wait_promoted(300s)) << "recovery did not finish";
  const auto recovered_rows = recovered.cluster().query_value("postgres", rows_query);
  EXPECT_EQ(recovered_rows, rows_on_b) << "rows (count, last id) recovered vs on B";

  {
    std::lock_guard lock(violations_mutex_);
    EXPECT_EQ(violation_count_, 0) << "first violations:\n"
                                   << [&] {
                                        std::string all;
                                        for (const auto& v : violations_)
                                          all += "  " + v + "\n";
                                        return all;
                                      }();
  }
  EXPECT_GT(samples_, 100) << "the sampler compared too few times";
  EXPECT_GT(pg_proxy_->connections_cut(), 0);
  EXPECT_GT(receiver_proxy_->connections_cut(), 0);
  std::cout << "WAL fault matrix: " << held->segments << " segments durable in " << held->ranges
            << " ranges, " << held->gaps << " gaps; " << switches_ << " segment switches; "
            << agent_kills << " agent kill -9, " << receiver_kills << " receiver kill -9, "
            << pg_proxy_->connections_cut() << " database connections cut, "
            << receiver_proxy_->connections_cut() << " receiver connections cut, " << disk_fills
            << " full disk (" << full_disk_refusals << " units refused), 1 promotion; " << samples_
            << " slot samples, " << violation_count_ << " ahead of durable; "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                started)
                   .count()
            << " s\nrecovered rows (count, last id): " << recovered_rows
            << "\nwal verify: " << verify.out;
}

}  // namespace
}  // namespace pgship::test

// The WAL stream when the server loses WAL the archive needs: with max_slot_wal_keep_size at
// 2MB and the receiver away, enough WAL and a checkpoint invalidate the agent's slot
// (wal_status 'lost'). Once the receiver is back the agent records the gap there (the state
// lists it, pgship_receiver_wal_gaps is 1), creates the slot again and streams on; restore's
// segment list answers 409 wal_gap inside the gap, since later WAL exists.

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

#include "curl.hpp"
#include "daemon_fixture.hpp"
#include "free_port.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
using pgship::wal::lsn;

class WalGap : public daemon_fixture {
 protected:
  struct http_response_like {
    int status = 0;
    std::string body;
  };

  pg_cluster& database_server() override { return *server_; }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "agent log:\n" << read_file(dir_ / "agent.log");
      if (server_) std::cerr << "server log:\n" << server_->server_log();
    }
    daemon_fixture::TearDown();
  }

  std::string sql(const std::string& query) { return server_->query_value("postgres", query); }
  lsn lsn_of(const std::string& query) {
    const auto v = pgship::wal::parse_lsn(sql(query));
    if (!v) throw std::runtime_error("not an LSN: " + query);
    return *v;
  }
  http_response_like receiver_get(const std::string& path) {
    const auto r = curl({"-H", "Authorization: Bearer " + token_, receiver_->url(path)});
    return {r.status, r.body};
  }
  std::optional<wire::wal::archive_state> archive(const std::string& system) {
    const auto r = receiver_get("/api/wal/" + system);
    if (r.status != 200) return std::nullopt;
    return wire::wal::decode_state(r.body);
  }
  // The receiver's pgship_receiver_wal_gaps, summed over its clients (-1 when absent).
  double receiver_gaps() {
    const auto r = receiver_get("/metrics");
    double sum = -1;
    std::istringstream lines(r.body);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.starts_with("pgship_receiver_wal_gaps{")) continue;
      sum = std::max(sum, 0.0) + std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
  }

  std::unique_ptr<pg_cluster> server_;
};

TEST_F(WalGap, ALostSlotIsRecordedRecreatedAndStreamingResumes) {
  server_ = std::make_unique<pg_cluster>(
      pg_cluster_options{.settings = {"max_slot_wal_keep_size = '2MB'", "wal_keep_size = 0"},
                         .initdb_args = {"--wal-segsize=1"},
                         .durable_commits = true});
  // A fixed port: the agent finds the receiver again after its restart.
  // After the outage the agent's backlog, the gap's base backup and this test's own requests
  // all arrive at once: the default RATE_LIMIT (20/s) would turn some into 429s, which is not
  // what this test is about (wal_rpo_kill_test covers recovering through the limit).
  start({{"PORT", std::to_string(free_port())}, {"RATE_LIMIT", "2000r/s"}});
  // Units as received: the agent's 32 MiB ship budget then holds 32 MiB of WAL, and past it
  // the server keeps the rest under the slot (up to max_slot_wal_keep_size).
  start_daemon({{"WAL_STREAM", "on"}, {"WAL_ACK_INTERVAL", "200ms"}, {"COMPRESSION", "none"}},
               "postgres");
  ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s));
  // The slot watch reads the slot from a normal connection as soon as the stream runs.
  EXPECT_TRUE(wait_until([&] { return metric("pgship_wal_slot_retained_bytes") >= 0; }, 60s));

  server_->execute("postgres", "CREATE TABLE g (id int PRIMARY KEY, note text)");
  server_->execute("postgres",
                   "INSERT INTO g SELECT g, md5(g::text) FROM generate_series(1, 100) g");
  const auto before = lsn_of("SELECT pg_current_wal_flush_lsn()");
  ASSERT_TRUE(wait_until(
      [&] { return metric("pgship_wal_durable_lsn_bytes") >= static_cast<double>(before); }, 60s));
  const auto system = sql("SELECT system_identifier FROM pg_control_system()");

  // The receiver goes away; the server writes on (past what the agent holds in memory) and
  // checkpoints until the slot is lost.
  receiver_->stop();
  // ~50 MiB of WAL: more than the agent holds (it stops reading, the walsender waits and the
  // slot keeps the rest), and far more than max_slot_wal_keep_size.
  server_->execute("postgres",
                   "INSERT INTO g SELECT g, repeat(md5(g::text), 10) "
                   "FROM generate_series(1000, 151000) g");
  int rounds = 0;
  for (; rounds < 30; ++rounds) {
    if (sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pgship'") == "lost")
      break;
    server_->execute("postgres", "SELECT pg_switch_wal()");
    server_->execute("postgres", "CHECKPOINT");
  }
  ASSERT_EQ(sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pgship'"), "lost")
      << "the slot was not lost after " << rounds << " rounds";

  // Back: the gap is recorded, the slot made again, and the stream goes on.
  receiver_->restart();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto state = archive(system);
        return state && !state->gaps.empty();
      },
      120s))
      << "no gap recorded";
  const auto state = archive(system);
  ASSERT_EQ(state->gaps.size(), 1u);
  const auto gap = state->gaps.front();
  EXPECT_EQ(gap.reason, "slot_lost");
  EXPECT_EQ(gap.timeline, 1u);
  EXPECT_GE(gap.from, before) << "the gap starts after what was durable";
  EXPECT_LT(gap.from, gap.to);
  EXPECT_GE(receiver_gaps(), 0) << "the receiver exports pgship_receiver_wal_gaps";
  EXPECT_TRUE(wait_until(
      [&] {
        return sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pgship'") !=
                   "lost" &&
               sql("SELECT restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = "
                   "'pgship'") == "t";
      },
      60s))
      << "the slot was not created again";

  server_->execute("postgres", "INSERT INTO g VALUES (999999, 'after the gap')");
  const auto after = lsn_of("SELECT pg_current_wal_flush_lsn()");
  ASSERT_TRUE(wait_until(
      [&] { return metric("pgship_wal_durable_lsn_bytes") >= static_cast<double>(after); }, 120s))
      << "new rows did not become durable after the gap";
  const auto agent_log = read_file(dir_ / "agent.log");
  EXPECT_NE(agent_log.find("a base backup is needed"), std::string::npos);

  // The same gap posted again changes nothing.
  const auto again =
      curl({"-X", "POST", "-H", "Authorization: Bearer " + token_, "--data-binary",
            wire::wal::encode_gap(gap), receiver_->url("/api/wal/" + system + "/gaps")});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(archive(system)->gaps.size(), 1u);

  // Restore cannot cross it: inside the gap the segment list is a 409, not a 404 that would end
  // recovery early.
  const std::uint64_t segment_size = 1 << 20;
  for (const lsn at : {gap.from, gap.to - 1}) {
    const auto segment = pgship::wal::segment_name(
        pgship::wal::segment_of(gap.timeline, at, segment_size), segment_size);
    const auto list = receiver_get("/api/wal/" + system + "/segments/" + segment);
    EXPECT_EQ(list.status, 409) << segment << ": " << list.body;
    EXPECT_NE(list.body.find("wal_gap"), std::string::npos) << list.body;
  }

  // The daemon started a base backup at once (trigger wal-gap); once it is complete the gap no
  // longer limits recovery: the gauge is 0 and the window starts after the gap.
  std::string wal_gap_result;
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& run : runs()) {
          const auto& r = run.as_object();
          if (r.at("kind").as_string() == "basebackup" && r.at("trigger").as_string() == "wal-gap")
            wal_gap_result = std::string(r.at("result").as_string());
        }
        return !wal_gap_result.empty() && wal_gap_result != "running";
      },
      600s))
      << "no base backup with trigger wal-gap";
  EXPECT_EQ(wal_gap_result, "ok");
  EXPECT_NE(read_file(dir_ / "agent.log").find("(wal-gap)"), std::string::npos);
  const auto complete = archive(system);
  ASSERT_TRUE(complete);
  ASSERT_FALSE(complete->basebackups.empty());
  EXPECT_GE(complete->basebackups.back().start_lsn, gap.to);
  EXPECT_TRUE(complete->pitr) << wire::wal::encode_state(*complete);
  EXPECT_TRUE(wait_until([&] { return receiver_gaps() == 0; }, 30s))
      << "pgship_receiver_wal_gaps: " << receiver_gaps();
  EXPECT_EQ(stop_daemon(), 0);
}

}  // namespace
}  // namespace pgship::test

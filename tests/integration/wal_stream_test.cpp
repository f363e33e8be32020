// The WAL stream against a real PostgreSQL 15 (1 MiB segments, durable commits), its units
// collected in memory at the receiver's boundary (the receiver's WAL routes are another
// branch's): rows reach sealed units within a few WAL_ACK_INTERVALs although their segment is
// far from full, and the slot's restart_lsn never passes what the collector acknowledged.

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <pgship/common/wal/wal_names.hpp>

#include "pg_cluster.hpp"
#include "process.hpp"
#include "wal/wal_stream.hpp"

namespace pgship::test {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using agent::wal::sealed_unit;

// The receiver's side of the boundary: keeps what it acknowledges; while `hold` is set, a PUT
// waits (the receiver has not made it durable yet).
struct collector {
  std::atomic<bool> hold{false};
  std::atomic<int> allowance{0};  // PUTs that may pass while `hold` is set
  std::atomic<std::uint64_t> acked_end{0};
  std::mutex mutex;
  std::vector<sealed_unit> units;
  std::uint64_t segment_size = 0;
  std::string system;
};

net::awaitable<agent::wal_api::put_outcome> collect(collector* c, const sealed_unit& unit) {
  net::steady_timer pause(co_await net::this_coro::executor);
  while (c->hold) {
    if (c->allowance > 0) {
      --c->allowance;
      break;
    }
    pause.expires_after(20ms);
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
  }
  {
    std::lock_guard lock(c->mutex);
    c->units.push_back(unit);
    c->segment_size = unit.segment_size;
  }
  c->acked_end = unit.end;
  co_return agent::wal_api::put_outcome{};
}

net::awaitable<agent::stage_error> state_of(collector* c, std::string system,
                                            wire::wal::archive_state* out) {
  std::lock_guard lock(c->mutex);
  *out = {};
  out->system = system;
  if (c->units.empty()) co_return agent::stage_error{};
  out->segment_size = c->segment_size;
  wire::wal::timeline_state t;
  t.timeline = c->units.front().timeline;
  t.ranges.push_back({c->units.front().start, c->units.back().end});
  out->timelines.push_back(t);
  co_return agent::stage_error{};
}

agent::wal::wal_receiver receiver_for(collector& c) {
  agent::wal::wal_receiver r;
  r.get_state = [&c](std::string system, wire::wal::archive_state& state) {
    return state_of(&c, std::move(system), &state);
  };
  r.sender_for = [&c](std::string system) {
    c.system = system;
    return agent::wal::ship_queue::sender(
        [&c](const sealed_unit& unit) { return collect(&c, unit); });
  };
  return r;
}

class WalStream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A short wal_sender_timeout: status updates every second, so a wrong flush position
    // would reach the slot while the test watches, and an idle server is probed, not lost.
    pg_ = new pg_cluster(pg_cluster_options{.settings = {"wal_sender_timeout = '2s'"},
                                            .initdb_args = {"--wal-segsize=1"},
                                            .durable_commits = true});
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }

  void TearDown() override {
    stop();
    if (HasFailure() && pg_ != nullptr) std::cerr << "server log:\n" << pg_->server_log();
  }

  std::string sql(const std::string& query) { return pg_->query_value("postgres", query); }
  std::uint64_t lsn_of(const std::string& query) {
    const auto text = sql(query);
    const auto v = pgship::wal::parse_lsn(text);
    if (!v) throw std::runtime_error("not an LSN: \"" + text + "\"");
    return *v;
  }

  void start(const std::string& slot) {
    agent::wal::stream_config config;
    config.login.host = pg_->host();
    config.login.port = pg_->port();
    config.login.user = pg_->user();
    config.login.password = pg_->password();
    config.slot = slot;
    config.ack_interval = 200ms;  // format: as received, so units are plain WAL
    stream_ = std::make_unique<agent::wal::wal_stream>(io_.get_executor(), config,
                                                       receiver_for(collector_));
    stream_->set_backoff(100ms, 1s);
    net::co_spawn(io_, stream_->run(), [this](std::exception_ptr e) { failure_ = e; });
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    net::post(io_, [this] { stream_->stop(); });
    thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }

  agent::wal::wal_status status() {
    std::promise<agent::wal::wal_status> p;
    net::post(io_, [&] { p.set_value(stream_->status()); });
    return p.get_future().get();
  }

  static pg_cluster* pg_;
  net::io_context io_;
  collector collector_;
  std::unique_ptr<agent::wal::wal_stream> stream_;
  std::thread thread_;
  std::exception_ptr failure_;
};

pg_cluster* WalStream::pg_ = nullptr;

TEST_F(WalStream, RowsReachUnitsWithinAFewAckIntervalsWhileTheirSegmentIsFarFromFull) {
  start("pgship_rows");
  ASSERT_TRUE(wait_until([&] { return status().up; }, 60s)) << status().last_error;
  EXPECT_EQ(sql("SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'pgship_rows'"),
            "physical");
  EXPECT_EQ(status().system_id, sql("SELECT system_identifier FROM pg_control_system()"));

  const std::string marker = "pgship-stream-marker-5d1c";
  pg_->execute("postgres", "CREATE TABLE IF NOT EXISTS rows_test (note text)");
  pg_->execute("postgres", "INSERT INTO rows_test VALUES ('" + marker + "')");
  const auto committed = lsn_of("SELECT pg_current_wal_flush_lsn()");
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return status().durable_lsn >= committed; }, 60s))
      << "durable " << pgship::wal::format_lsn(status().durable_lsn) << ", committed "
      << pgship::wal::format_lsn(committed);
  const auto took = std::chrono::steady_clock::now() - started;
  // A few WAL_ACK_INTERVALs (200 ms) on a quiet machine; generous for a busy one, and still
  // far below what waiting for the 1 MiB segment to fill would take (it never fills here).
  EXPECT_LT(took, 30s);

  const auto st = status();
  EXPECT_TRUE(st.up);
  EXPECT_GE(st.received_lsn, committed);
  EXPECT_GE(st.server_lsn, committed);

  std::lock_guard lock(collector_.mutex);
  ASSERT_FALSE(collector_.units.empty());
  EXPECT_EQ(collector_.segment_size, 1u << 20);
  bool found = false;
  bool partial = false;
  for (std::size_t i = 0; i < collector_.units.size(); ++i) {
    const auto& u = collector_.units[i];
    if (i > 0) {
      EXPECT_EQ(u.start, collector_.units[i - 1].end) << "units follow each other";
    }
    EXPECT_EQ(u.stored.size(), u.plaintext_size) << "stored as received";
    EXPECT_EQ(u.end - u.start, u.plaintext_size);
    if (u.stored.find(marker) != std::string::npos) {
      found = true;
      partial = !u.ends_segment();
    }
  }
  EXPECT_TRUE(found) << "the row's WAL is in a unit";
  EXPECT_TRUE(partial) << "the unit holding it was sealed on its deadline, not the segment end";
}

TEST_F(WalStream, TheSlotNeverPassesWhatTheReceiverAcknowledged) {
  collector_.hold = true;
  start("pgship_acks");
  ASSERT_TRUE(wait_until([&] { return status().up; }, 60s)) << status().last_error;
  const std::string restart_sql =
      "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'pgship_acks'";
  const auto initial = lsn_of(restart_sql);

  // WAL the receiver does not acknowledge: several segments, switched and checkpointed, so
  // the server would free them if the slot let it.
  pg_->execute("postgres", "CREATE TABLE IF NOT EXISTS acks_test (n int, pad text)");
  for (int i = 0; i < 3; ++i) {
    pg_->execute(
        "postgres",
        "INSERT INTO acks_test SELECT g, repeat('x', 200) FROM generate_series(1, 3000) g");
    sql("SELECT pg_switch_wal()");
  }
  pg_->execute("postgres", "CHECKPOINT");
  const auto written = lsn_of("SELECT pg_current_wal_flush_lsn()");
  ASSERT_TRUE(wait_until([&] { return status().received_lsn >= written; }, 60s))
      << "received " << pgship::wal::format_lsn(status().received_lsn);
  // Several status updates go out meanwhile (one a second): none may move the slot.
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(lsn_of(restart_sql), initial) << "nothing acknowledged: the slot stays";
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(collector_.acked_end.load(), 0u);
  EXPECT_GT(status().lag_bytes, 0u);

  // Acknowledged one unit at a time: the slot follows, never ahead of the acknowledgements.
  bool advanced = false;
  for (int i = 0; i < 600 && !advanced; ++i) {
    if (i % 3 == 0) ++collector_.allowance;
    const auto restart = lsn_of(restart_sql);
    const auto acked = collector_.acked_end.load();  // read after: it only grows
    EXPECT_LE(restart, acked == 0 ? initial : acked) << "the slot passed the receiver";
    advanced = restart >= written;
    if (!advanced) std::this_thread::sleep_for(100ms);
  }
  collector_.hold = false;
  EXPECT_TRUE(advanced) << "restart_lsn " << sql(restart_sql) << " never reached "
                        << pgship::wal::format_lsn(written);
  EXPECT_GE(status().segments_shipped, 3u);
}

TEST_F(WalStream, AnIdleServerIsProbedNotTakenForDead) {
  start("pgship_idle");
  ASSERT_TRUE(wait_until([&] { return status().up; }, 60s)) << status().last_error;
  const std::string pid_sql =
      "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'pgship_idle'";
  const auto pid = sql(pid_sql);
  ASSERT_FALSE(pid.empty());
  // Silence of more than three status intervals (1 s each with wal_sender_timeout 2s), and of
  // the server's timeout: the same connection stays.
  std::this_thread::sleep_for(7s);
  EXPECT_TRUE(status().up);
  EXPECT_EQ(sql(pid_sql), pid) << "the stream reconnected";
}

TEST_F(WalStream, AStopIsCleanAndTheNextStartGoesOnWhereTheReceiverEnds) {
  start("pgship_restart");
  ASSERT_TRUE(wait_until([&] { return status().up; }, 60s)) << status().last_error;
  pg_->execute("postgres", "CREATE TABLE IF NOT EXISTS restart_test (n int)");
  pg_->execute("postgres", "INSERT INTO restart_test VALUES (1)");
  const auto first = lsn_of("SELECT pg_current_wal_flush_lsn()");
  ASSERT_TRUE(wait_until([&] { return status().durable_lsn >= first; }, 60s));
  stop();
  // The walsender is gone: the COPY was ended, the connection closed.
  ASSERT_TRUE(wait_until(
      [&] {
        return sql("SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                   "'pgship-agent'") == "0";
      },
      30s));
  const std::size_t units_before = [&] {
    std::lock_guard lock(collector_.mutex);
    return collector_.units.size();
  }();

  // A new stream (a restarted agent) resumes at the receiver's durable end: no unit repeats
  // or skips a byte.
  io_.restart();
  pg_->execute("postgres", "INSERT INTO restart_test VALUES (2)");
  const auto second = lsn_of("SELECT pg_current_wal_flush_lsn()");
  start("pgship_restart");
  ASSERT_TRUE(wait_until([&] { return status().durable_lsn >= second; }, 60s))
      << status().last_error;
  std::lock_guard lock(collector_.mutex);
  ASSERT_GT(collector_.units.size(), units_before);
  for (std::size_t i = 1; i < collector_.units.size(); ++i)
    EXPECT_EQ(collector_.units[i].start, collector_.units[i - 1].end) << "unit " << i;
}

}  // namespace
}  // namespace pgship::test

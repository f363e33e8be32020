// The PITR window against real PostgreSQL 15, a real daemon streaming its WAL and a real
// receiver: a base backup is complete only once the receiver accepted its mark; the archive
// state lists it and a window from its stop time to the newest time-map sample, which advances
// as the server writes; the receiver exports the window; a mark for WAL the archive does not
// hold is refused.

#include <chrono>
#include <optional>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/wire/wal.hpp>

#include "daemon_fixture.hpp"
#include "http_client.hpp"

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
namespace wal_wire = wire::wal;
namespace http = boost::beast::http;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PitrWindow : public daemon_fixture {
 protected:
  http_response to_receiver(http::verb method, const std::string& target, std::string body = {}) {
    http_request r;
    r.method = method;
    r.target = target;
    r.headers["Authorization"] = "Bearer " + token_;
    if (!body.empty()) r.headers["Content-Type"] = "application/json";
    r.body = std::move(body);
    return http_send(receiver_->port(), r);
  }
  std::optional<wal_wire::archive_state> archive(const std::string& system) {
    const auto res = to_receiver(http::verb::get, wal_wire::system_path(system));
    if (res.result_int() != 200) return std::nullopt;
    return wal_wire::decode_state(res.body());
  }
  // One sample of the receiver's /metrics; -1 when absent.
  double receiver_metric(const std::string& sample) {
    http_request r;
    r.target = "/metrics";
    const auto body = http_send(receiver_->port(), r).body();
    const auto at = body.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + sample.size() + 2));
  }
};

TEST_F(PitrWindow, ACompleteBaseBackupOpensAWindowThatAdvancesWithTheWal) {
  start();
  const auto started_ms = now_ms();
  start_daemon({{"WAL_STREAM", "on"},
                {"WAL_SLOT", "pgship_pitr_window_test"},
                {"WAL_ACK_INTERVAL", "200ms"},
                {"COMPRESSION", "zstd"}},
               "postgres");
  const auto system =
      pg().query_value("postgres", "SELECT system_identifier FROM pg_control_system()");
  pg().execute("postgres", "CREATE TABLE IF NOT EXISTS pitr_rows (at timestamptz DEFAULT now())");

  const auto posted = post("/api/v1/basebackups");
  ASSERT_EQ(posted.result_int(), 202) << posted.body();
  const std::string location(posted[http::field::location]);
  const auto run_id = location.substr(std::string("/api/v1/runs/").size());
  ASSERT_TRUE(wait_until([&] { return result_of(run_id) != "running"; }, 600s));
  ASSERT_EQ(result_of(run_id), "ok") << read_file(dir_ / "agent.log");
  const auto finished_ms = now_ms();

  // The state lists the backup as complete, and the window starts at its stop time.
  auto state = archive(system);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->basebackups.size(), 1u) << wal_wire::encode_state(*state);
  const auto backup = state->basebackups[0];
  EXPECT_TRUE(backup.id.starts_with("pgdata-")) << backup.id;
  EXPECT_GE(backup.stop_lsn, backup.start_lsn);
  EXPECT_GE(backup.stop_time_ms, started_ms);
  EXPECT_LE(backup.stop_time_ms, finished_ms);
  ASSERT_TRUE(state->pitr) << wal_wire::encode_state(*state);
  EXPECT_EQ(state->pitr->oldest_ms, backup.stop_time_ms);
  EXPECT_GE(state->pitr->newest_ms, state->pitr->oldest_ms);
  const auto first_newest = state->pitr->newest_ms;

  // As the server writes, the newest recovery target moves on.
  std::int64_t newest = first_newest;
  const bool advanced = wait_until(
      [&] {
        pg().execute("postgres", "INSERT INTO pitr_rows DEFAULT VALUES");
        if (const auto s = archive(system); s && s->pitr) newest = s->pitr->newest_ms;
        return newest > first_newest && newest > backup.stop_time_ms;
      },
      120s);
  EXPECT_TRUE(advanced) << "newest stayed at " << newest;

  // The receiver exports the window for the client.
  EXPECT_NEAR(receiver_metric("pgship_receiver_pitr_oldest_timestamp_seconds{client=\"default\"}"),
              static_cast<double>(backup.stop_time_ms) / 1000, 0.01);
  EXPECT_GE(receiver_metric("pgship_receiver_pitr_newest_timestamp_seconds{client=\"default\"}"),
            static_cast<double>(newest) / 1000 - 0.01);
  EXPECT_EQ(receiver_metric("pgship_receiver_wal_gaps{client=\"default\"}"), 0);

  // The same mark again is 200; a mark for WAL the archive does not hold, or for a backup it
  // does not store, is 409 wal_incomplete.
  const auto path = wal_wire::basebackup_mark_path(system, backup.id);
  auto again = backup;
  again.id.clear();
  EXPECT_EQ(to_receiver(http::verb::put, path, wal_wire::encode_mark(again)).result_int(), 200);
  auto beyond = backup;
  beyond.id = "pgdata-20200101-000000.base.tar";
  const auto not_stored =
      to_receiver(http::verb::put, wal_wire::basebackup_mark_path(system, beyond.id),
                  wal_wire::encode_mark(beyond));
  EXPECT_EQ(not_stored.result_int(), 409);
  EXPECT_NE(not_stored.body().find("wal_incomplete"), std::string::npos) << not_stored.body();
  auto unheld = backup;
  unheld.timeline = 7;
  const auto refused = to_receiver(http::verb::put, path, wal_wire::encode_mark(unheld));
  EXPECT_EQ(refused.result_int(), 409);
  EXPECT_NE(refused.body().find("wal_incomplete"), std::string::npos) << refused.body();
  EXPECT_EQ(archive(system)->basebackups.size(), 1u) << "nothing recorded for refused marks";

  EXPECT_EQ(stop_daemon(), 0);
  wait_until(
      [&] {
        return pg().query_value("postgres",
                                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                "'pgship_pitr_window_test' AND active") == "0";
      },
      30s);
  pg().execute("postgres", "SELECT pg_drop_replication_slot('pgship_pitr_window_test')");
}

}  // namespace
}  // namespace pgship::test

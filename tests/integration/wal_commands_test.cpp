// `pgship-agent wal status|verify|drop-slot` against PostgreSQL 15 (1 MiB segments, durable
// commits), a real receiver and a real daemon streaming WAL: status follows the durable
// position with the daemon and still answers from PostgreSQL and the receiver without it;
// verify passes a whole archive and names the hole a removed unit leaves; drop-slot refuses a
// slot a stream holds and drops it once the daemon stopped.

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <pgship/common/wal/wal_names.hpp>

#include "daemon_fixture.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using pgship::wal::format_lsn;
using pgship::wal::lsn;
using pgship::wal::parse_lsn;

constexpr std::uint64_t segment_size = 1 << 20;

class WalCommands : public daemon_fixture {
 protected:
  pg_cluster& database_server() override { return *source_; }

  void SetUp() override {
    source_ = std::make_unique<pg_cluster>(
        pg_cluster_options{.initdb_args = {"--wal-segsize=1"}, .durable_commits = true});
    start();
  }

  std::map<std::string, std::string> stream_settings() {
    return {{"WAL_STREAM", "on"}, {"WAL_ACK_INTERVAL", "200ms"}};
  }

  void start_streaming() {
    start_daemon(stream_settings(), "postgres");
    daemon_port_ = daemon_.port;
    ASSERT_TRUE(wait_until([&] { return metric("pgship_wal_stream_up") == 1; }, 120s))
        << "the WAL stream did not come up";
  }

  // `pgship-agent wal <args>` with the daemon's settings, reaching its control API (if it still
  // runs) and the receiver where they are now.
  process_result wal_command(std::vector<std::string> args) {
    auto config = agent_config("postgres", stream_settings());
    config["LISTEN_ADDR"] = "127.0.0.1";
    config["HEALTHCHECK_PORT"] = std::to_string(daemon_port_);
    const auto file = write_config(config, "wal-command.env");
    args.insert(args.begin(), "wal");
    args.insert(args.end(), {"--config", file.string()});
    return run_process(agent_argv(args), {.timeout = 120s});
  }

  json::object status_json() {
    const auto r = wal_command({"status", "--json"});
    EXPECT_TRUE(r.ok()) << r.describe() << r.out;
    boost::system::error_code ec;
    auto parsed = json::parse(r.out, ec);
    if (ec || !parsed.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << r.out;
      return {};
    }
    return parsed.as_object();
  }

  static lsn lsn_in(const json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string()) return 0;
    return parse_lsn(v->get_string()).value_or(0);
  }

  lsn flush_lsn() {
    return *parse_lsn(source_->query_value("postgres", "SELECT pg_current_wal_flush_lsn()"));
  }

  // Several segments of WAL in committed rows.
  void write_rows(int batches) {
    source_->execute("postgres", "CREATE TABLE IF NOT EXISTS filler (id bigint, note text)");
    for (int i = 0; i < batches; ++i) {
      source_->execute("postgres",
                       "INSERT INTO filler SELECT g, repeat(md5(g::text), 8) FROM "
                       "generate_series(1, 2000) g");
    }
  }

  double durable_metric() { return metric("pgship_wal_durable_lsn_bytes"); }

  std::string slot_count(const std::string& condition = "true") {
    return source_->query_value(
        "postgres",
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgship' AND " + condition);
  }

  std::unique_ptr<pg_cluster> source_;
  unsigned short daemon_port_ = 0;
};

TEST_F(WalCommands, StatusFollowsTheDurablePositionAndAnswersWithoutTheDaemon) {
  start_streaming();
  write_rows(4);
  const auto written = flush_lsn();
  const auto system =
      source_->query_value("postgres", "SELECT system_identifier FROM pg_control_system()");

  json::object seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen = status_json();
        return lsn_in(seen, "durable_lsn") >= written;
      },
      120s))
      << "wal status never showed the receiver durable at " << format_lsn(written) << ": "
      << json::serialize(seen);
  EXPECT_TRUE(std::string(seen.at("source").as_string()).starts_with("daemon on 127.0.0.1:"))
      << json::serialize(seen);
  EXPECT_EQ(seen.at("slot").as_string(), "pgship");
  EXPECT_EQ(seen.at("system_id").as_string(), system);
  EXPECT_EQ(seen.at("timeline").to_number<int>(), 1);
  EXPECT_GE(lsn_in(seen, "server_lsn"), written);
  EXPECT_GE(lsn_in(seen, "received_lsn"), written);
  for (const char* key : {"lag_bytes", "lag_seconds", "queued_bytes"})
    EXPECT_TRUE(seen.contains(key)) << key;

  // For people: one line per field.
  const auto human = wal_command({"status"});
  ASSERT_TRUE(human.ok()) << human.describe();
  EXPECT_NE(human.out.find("durable LSN:"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("slot:              pgship\n"), std::string::npos) << human.out;

  ASSERT_EQ(stop_daemon(), 0);
  const auto durable = lsn_in(seen, "durable_lsn");
  const auto alone = status_json();
  EXPECT_TRUE(
      std::string(alone.at("source").as_string()).starts_with("PostgreSQL and the receiver"))
      << json::serialize(alone);
  EXPECT_EQ(alone.at("system_id").as_string(), system);
  EXPECT_EQ(alone.at("slot").as_string(), "pgship");
  EXPECT_GE(lsn_in(alone, "durable_lsn"), durable) << "the receiver's durable end";
  EXPECT_EQ(alone.at("durable_timeline").to_number<int>(), 1);
  EXPECT_GE(lsn_in(alone, "server_lsn"), lsn_in(alone, "durable_lsn"));
  EXPECT_TRUE(alone.contains("lag_bytes"));
  EXPECT_NE(std::string(alone.at("slot_state").as_string()).find("physical, inactive"),
            std::string::npos)
      << json::serialize(alone);
  EXPECT_NE(std::string(alone.at("archive").as_string()).find("timeline 1: "), std::string::npos);
  EXPECT_FALSE(alone.contains("last_error")) << json::serialize(alone);
}

TEST_F(WalCommands, VerifyPassesAWholeArchiveAndNamesTheHoleOfARemovedUnit) {
  start_streaming();
  write_rows(6);
  source_->execute("postgres", "SELECT pg_switch_wal()");
  write_rows(1);
  const auto written = flush_lsn();
  ASSERT_TRUE(wait_until([&] { return durable_metric() >= static_cast<double>(written); }, 120s));
  ASSERT_EQ(stop_daemon(), 0);

  const auto whole = wal_command({"verify"});
  EXPECT_EQ(whole.exit_code, 0) << whole.describe() << whole.out;
  EXPECT_TRUE(whole.out.starts_with("no gaps (timeline 1: ")) << whole.out;
  const auto whole_json = wal_command({"verify", "--json"});
  EXPECT_EQ(whole_json.exit_code, 0) << whole_json.describe();
  EXPECT_NE(whole_json.out.find("\"ok\":true"), std::string::npos) << whole_json.out;

  // Remove one unit from the middle of the archive, with its sidecar.
  const auto system =
      source_->query_value("postgres", "SELECT system_identifier FROM pg_control_system()");
  const auto root = receiver_->storage_dir() / ".wal" / "default" / system;
  std::vector<stdfs::path> units;
  for (const auto& e : stdfs::recursive_directory_iterator(root))
    if (e.is_regular_file() && pgship::wal::parse_unit_name(e.path().filename().string()))
      units.push_back(e.path());
  std::sort(units.begin(), units.end());
  ASSERT_GE(units.size(), 5u) << "several segments of units";
  const auto victim = units[units.size() / 2];
  const auto unit = *pgship::wal::parse_unit_name(victim.filename().string());
  const auto segment = *pgship::wal::parse_segment_name(unit.segment, segment_size);
  const auto from = segment.start(segment_size) + unit.start;
  const auto to = segment.start(segment_size) + unit.end;
  ASSERT_TRUE(stdfs::remove(victim));
  ASSERT_TRUE(stdfs::remove(stdfs::path(victim).concat(".json")));
  receiver_->restart();

  const std::string hole = "timeline 1: " + format_lsn(from) + " \u2013 " + format_lsn(to);
  const auto broken = wal_command({"verify"});
  EXPECT_EQ(broken.exit_code, 62) << broken.describe() << broken.out;
  EXPECT_NE(broken.out.find("1 gap in the archive of system " + system), std::string::npos)
      << broken.out;
  EXPECT_NE(broken.out.find("  " + hole + "\n"), std::string::npos)
      << "expected " << hole << " in:\n"
      << broken.out;
  const auto broken_json = wal_command({"verify", "--json", "--system", system});
  EXPECT_EQ(broken_json.exit_code, 62) << broken_json.describe();
  EXPECT_NE(broken_json.out.find("\"gaps\":[{\"timeline\":1,\"from\":\"" + format_lsn(from) +
                                 "\",\"to\":\"" + format_lsn(to) + "\"}]"),
            std::string::npos)
      << broken_json.out;
}

TEST_F(WalCommands, DropSlotRefusesASlotTheStreamHoldsAndDropsItOnceTheDaemonStopped) {
  start_streaming();
  ASSERT_TRUE(wait_until([&] { return slot_count("active") == "1"; }, 60s));
  const auto refused = wal_command({"drop-slot"});
  EXPECT_EQ(refused.exit_code, 42) << refused.describe() << refused.out;
  EXPECT_NE(refused.err.find("stop the daemon first (PID "), std::string::npos) << refused.err;
  EXPECT_EQ(slot_count(), "1") << "the slot stays";

  ASSERT_EQ(stop_daemon(), 0);
  ASSERT_TRUE(wait_until([&] { return slot_count("active") == "0"; }, 30s));
  const auto dropped = wal_command({"drop-slot"});
  EXPECT_EQ(dropped.exit_code, 0) << dropped.describe();
  EXPECT_NE(dropped.out.find("dropped replication slot pgship"), std::string::npos) << dropped.out;
  EXPECT_EQ(slot_count(), "0");

  const auto again = wal_command({"drop-slot"});
  EXPECT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_NE(again.out.find("no replication slot pgship on the server"), std::string::npos)
      << again.out;
}

}  // namespace
}  // namespace pgship::test

// ROW_COUNTS: the manifest's per-table counts are those of the rows the dump holds, taken in
// the snapshot pg_dump dumps (pg_export_snapshot + pg_dump --snapshot), also while other
// sessions write. Real PostgreSQL, real pg_dump and pg_restore, a real receiver.

#include <set>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "agent_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class AgentRowCounts : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.create_database("counted");
    pg.load_sample_data("counted", 5000);
    pg.execute("counted",
               "CREATE SCHEMA audit; CREATE TABLE audit.\"Odd Name\" (x int);"
               "INSERT INTO audit.\"Odd Name\" SELECT generate_series(1, 77)");
  }

  json::object manifest() {
    const auto dumps = local_dumps();
    EXPECT_FALSE(dumps.empty());
    const auto& name = dumps.back();
    return json::parse(read_file(backup_dir() / (name.substr(0, name.size() - 5) + ".json")))
        .as_object();
  }

  std::map<std::string, std::uint64_t> counts_in(const json::object& m) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& t : m.at("tables").as_array()) {
      const auto& o = t.as_object();
      out[std::string(o.at("schema").as_string()) + "." + std::string(o.at("name").as_string())] =
          o.at("rows").to_number<std::uint64_t>();
    }
    return out;
  }

  std::uint64_t count_of(const std::string& db, const std::string& qualified) {
    const auto dot = qualified.find('.');
    return std::stoull(pg().query_value(db, "SELECT count(*) FROM \"" + qualified.substr(0, dot) +
                                                "\".\"" + qualified.substr(dot + 1) + "\""));
  }
};

TEST_F(AgentRowCounts, TheManifestHoldsEveryTablesExactCount) {
  start();
  const auto r = run_agent({"backup", "--config", write_config(agent_config("counted")).string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto m = manifest();
  EXPECT_EQ(m.at("row_counts").as_string(), "exact");
  const auto counts = counts_in(m);
  // Every user table, the quoted one included, and no catalog.
  const std::set<std::string> expected_tables = {"audit.Odd Name", "public.accounts",
                                                 "public.instruments", "public.order_events",
                                                 "public.trades"};
  ASSERT_EQ(counts.size(), expected_tables.size()) << json::serialize(m);
  for (const auto& [table, rows] : counts) {
    EXPECT_TRUE(expected_tables.contains(table)) << table;
    EXPECT_EQ(rows, count_of("counted", table)) << table;
  }
  EXPECT_EQ(counts.at("audit.Odd Name"), 77u);
  EXPECT_EQ(counts.at("public.trades"), 5000u);
}

TEST_F(AgentRowCounts, CountsAreTheDumpsOwnWhileOthersWrite) {
  start();
  // pg_dump starts two seconds late; rows inserted meanwhile are not in its snapshot.
  const auto wrapper = dir_ / "slow" / "pg_dump";
  stdfs::create_directories(wrapper.parent_path());
  write_file(wrapper, "#!/bin/sh\ncase \"$1\" in --version) exec '" +
                          (pg().bin_dir() / "pg_dump").string() + "' --version;; esac\nsleep 2\n" +
                          "exec '" + (pg().bin_dir() / "pg_dump").string() + "' \"$@\"\n");
  stdfs::permissions(wrapper, stdfs::perms::owner_all);
  std::error_code ec;
  stdfs::create_symlink(pg().bin_dir() / "pg_restore", wrapper.parent_path() / "pg_restore", ec);
  const auto before = count_of("counted", "audit.Odd Name");
  const auto cfg = write_config(agent_config("counted", {{"PG_DUMP_PATH", wrapper.string()}}));
  process_result r;
  std::thread agent([&] { r = run_agent({"backup", "--config", cfg.string()}); });
  std::this_thread::sleep_for(1s);
  pg().execute("counted", "INSERT INTO audit.\"Odd Name\" SELECT generate_series(1, 1000)");
  agent.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto counts = counts_in(manifest());
  EXPECT_EQ(counts.at("audit.Odd Name"), before) << "counted outside the dump's snapshot";
  EXPECT_EQ(count_of("counted", "audit.Odd Name"), before + 1000);

  // What the archive holds is what the manifest says.
  const auto restore = run_agent({"restore", "--config", cfg.string(), "--latest", "--database",
                                  "counted", "--target-db", "counted_copy", "--create"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  for (const auto& [table, rows] : counts)
    EXPECT_EQ(count_of("counted_copy", table), rows) << table;
  pg().drop_database("counted_copy");
}

TEST_F(AgentRowCounts, EstimateReadsReltuplesAndOffTakesNone) {
  start();
  pg().execute("counted", "ANALYZE");
  auto r = run_agent(
      {"backup", "--config",
       write_config(agent_config("counted", {{"ROW_COUNTS", "estimate"}}), "est.env").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto est = manifest();
  EXPECT_EQ(est.at("row_counts").as_string(), "estimate");
  EXPECT_EQ(counts_in(est).at("public.trades"), 5000u);  // exact after ANALYZE on small tables
  std::this_thread::sleep_for(1100ms);
  r = run_agent(
      {"backup", "--config",
       write_config(agent_config("counted", {{"ROW_COUNTS", "off"}}), "off.env").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto off = manifest();
  EXPECT_FALSE(off.contains("tables")) << json::serialize(off);
  EXPECT_FALSE(off.contains("row_counts"));
}

}  // namespace
}  // namespace pgship::test

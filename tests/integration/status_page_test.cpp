// The receiver as the fleet's one view: an agent's backups, its drill report and its schedule
// show in GET /api/status, and the status page draws them in a real browser (Debian's
// chromium, driven by playwright-core: tests/integration/status-page/check.mjs) with the
// values /api/status gave, no console errors, a clear message for a wrong token, and fitting
// a phone's width. Screenshots at both widths are kept in artifacts/status-page/.

#include <algorithm>
#include <filesystem>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "agent_fixture.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;
namespace json = boost::json;
using verb = boost::beast::http::verb;

class StatusPage : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    for (const char* db : {"fleet_a", "fleet_b"}) {
      pg.create_database(db);
      pg.load_sample_data(db, 3000);
    }
  }

  http_response api(verb method, const std::string& target, const std::string& bearer,
                    const std::string& body = {}) {
    return http_send(receiver_->port(), {.method = method,
                                         .target = target,
                                         .headers = {{"Authorization", "Bearer " + bearer}},
                                         .body = body});
  }
};

const json::object* database_of(const json::object& status, const std::string& name) {
  for (const auto& c : status.at("clients").as_array()) {
    for (const auto& d : c.at("databases").as_array()) {
      if (d.at("database").as_string() == name) return &d.as_object();
    }
  }
  return nullptr;
}

TEST_F(StatusPage, TheAgentsBackupsAndDrillShowInApiStatusAndOnThePageInARealBrowser) {
  start();
  const auto cfg = write_config(agent_config("fleet_a,fleet_b", {{"SCHEDULE", "0 3 * * *"}}));
  for (int i = 0; i < 2; ++i) {
    const auto r = run_agent({"backup", "--config", cfg.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  const auto drill = run_agent({"drill", "--database", "fleet_a", "--config", cfg.string()});
  ASSERT_EQ(drill.exit_code, 0) << drill.out << drill.err;

  // A report that is not one: refused, nothing kept.
  EXPECT_EQ(api(verb::post, "/api/backup/reports", token_, R"({"kind":"drill","database":"../x"})")
                .result_int(),
            400);
  EXPECT_EQ(api(verb::post, "/api/backup/reports", "wrong", R"({"kind":"schedule"})").result_int(),
            401);

  const auto reply = api(verb::get, "/api/status", token_);
  ASSERT_EQ(reply.result_int(), 200) << reply.body();
  const auto status = json::parse(reply.body()).as_object();
  EXPECT_EQ(status.at("schema").as_string(), "pgship.status.v1");
  const auto& client = status.at("clients").as_array().at(0).as_object();
  EXPECT_EQ(client.at("schedule").as_string(), "0 3 * * *");
  const auto* a = database_of(status, "fleet_a");
  const auto* b = database_of(status, "fleet_b");
  ASSERT_TRUE(a && b) << reply.body();
  const auto stored = stored_dumps("fleet_a");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(a->at("newest").at("id").as_string(), stored.back());
  EXPECT_EQ(a->at("newest").at("size").to_number<std::uint64_t>(),
            stdfs::file_size(receiver_->storage_dir() / "default" / "fleet_a" / stored.back()));
  EXPECT_EQ(a->at("state").as_string(), "ok") << "a backup minutes old, against a daily schedule";
  EXPECT_EQ(a->at("expected_interval_seconds").to_number<std::int64_t>(), 86400);
  EXPECT_EQ(a->at("sizes").as_array().size(), 2u);
  const auto& logical = a->at("drills").at("logical").as_object();
  EXPECT_EQ(logical.at("result").as_string(), "ok");
  EXPECT_EQ(logical.at("backup").as_string(), stored.back());
  const auto rows = std::stoull(pg().query_value(
      "fleet_a",
      "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM instruments) + "
      "(SELECT count(*) FROM trades) + (SELECT count(*) FROM order_events)"));
  EXPECT_EQ(logical.at("rows").to_number<std::uint64_t>(), rows) << "the drill's restored rows";
  EXPECT_TRUE(b->at("drills").at("logical").is_null());

  // The page, in a browser.
  const auto artifacts = stdfs::current_path() / "artifacts" / "status-page";
  stdfs::create_directories(artifacts);
  const auto browser = run_process(
      {"node", std::string(PGSHIP_SOURCE_DIR) + "/tests/integration/status-page/check.mjs",
       receiver_->url(), token_, artifacts.string()},
      {.timeout = std::chrono::seconds(180)});
  ASSERT_EQ(browser.exit_code, 0) << browser.describe() << browser.out;
  const auto seen = json::parse(browser.out).as_object();
  EXPECT_TRUE(seen.at("console_errors").as_array().empty()) << json::serialize(seen);
  EXPECT_TRUE(seen.at("phone_fits").as_bool());
  EXPECT_NE(std::string(seen.at("wrong_token_message").as_string()).find("refused"),
            std::string::npos)
      << seen.at("wrong_token_message");
  EXPECT_EQ(seen.at("wrong_token_rows").to_number<int>(), 0);
  const auto& shown = seen.at("rows").as_array();
  ASSERT_EQ(shown.size(), 2u) << json::serialize(seen);
  for (const auto& row_value : shown) {
    const auto& row = row_value.as_object();
    const auto name = std::string(row.at("database").as_string());
    const auto* given = database_of(status, name);
    ASSERT_TRUE(given) << name;
    EXPECT_EQ(row.at("newest"), given->at("newest").at("id"));
    EXPECT_EQ(row.at("age_state"), given->at("state"));
    EXPECT_EQ(row.at("size_bytes").to_number<std::uint64_t>(),
              given->at("newest").at("size").to_number<std::uint64_t>());
    EXPECT_EQ(row.at("trend_points").to_number<std::size_t>(),
              given->at("sizes").as_array().size());
    const auto& drill_given = given->at("drills").at("logical");
    if (drill_given.is_null()) {
      EXPECT_EQ(row.at("drill_result").as_string(), "none");
    } else {
      EXPECT_EQ(row.at("drill_result"), drill_given.at("result"));
      EXPECT_EQ(row.at("drill_rows").to_number<std::uint64_t>(),
                drill_given.at("rows").to_number<std::uint64_t>());
      EXPECT_DOUBLE_EQ(row.at("drill_recovery_seconds").to_number<double>(),
                       drill_given.at("recovery_seconds").to_number<double>());
    }
  }
  for (const char* shot : {"status-desktop.png", "status-phone.png"}) {
    ASSERT_TRUE(stdfs::exists(artifacts / shot)) << shot;
    EXPECT_GT(stdfs::file_size(artifacts / shot), 10000u) << shot;
  }

  // STATUS_PAGE=off: no page, the API stays. Reports take an upload or a read token (an agent
  // that only drills holds the latter), not one that may only delete.
  write_file(dir_ / "tokens", "drills:read:reader-token-1f\njanitor:delete:deleter-token-2e\n");
  start({{"STATUS_PAGE", "off"}, {"API_TOKENS_FILE", (dir_ / "tokens").string()}});
  EXPECT_EQ(http_send(receiver_->port(), {.target = "/"}).result_int(), 404);
  EXPECT_EQ(api(verb::get, "/api/status", token_).result_int(), 200);
  const std::string schedule = R"({"kind":"schedule","schedule":"@hourly","databases":["x"]})";
  EXPECT_EQ(api(verb::post, "/api/backup/reports", "reader-token-1f", schedule).result_int(), 201);
  EXPECT_EQ(api(verb::post, "/api/backup/reports", "deleter-token-2e", schedule).result_int(), 403);
}

}  // namespace
}  // namespace pgship::test

// GET /api/status's arithmetic (api/status_view) and the report wire (common/wire/report):
// a backup is late past 1.5 schedule intervals, missing without one, unknown without a
// schedule; the newest size far from the median is flagged; the newest drill of each kind is
// shown; a report that is not well-formed is refused with a reason.
#include "api/status_view.hpp"

#include <gtest/gtest.h>

#include <pgship/common/wire/report.hpp>

namespace pgship::test {
namespace {

using namespace std::chrono_literals;
using receiver::client_reports;
using receiver::client_status;
using sys_clock = std::chrono::system_clock;

const sys_clock::time_point now = sys_clock::time_point{} + std::chrono::hours(24 * 20000);

wire::backup_record dump(const std::string& db, std::chrono::hours ago, std::uint64_t size) {
  wire::backup_record r;
  r.database = db;
  r.id = db + "-" + std::to_string(ago.count()) + ".dump";
  r.size = size;
  r.taken = now - ago;
  return r;
}

client_reports daily(std::vector<std::string> dbs) {
  client_reports c;
  wire::schedule_report s;
  s.schedule = "0 3 * * *";
  s.interval_seconds = 86400;
  s.databases = std::move(dbs);
  c.schedule = s;
  return c;
}

const boost::json::object& db_of(const boost::json::object& status, const std::string& name) {
  for (const auto& d : status.at("databases").as_array())
    if (d.at("database").as_string() == name) return d.as_object();
  throw std::runtime_error("no " + name);
}

TEST(StatusView, AgeIsJudgedAgainstTheReportedSchedule) {
  const std::vector<wire::backup_record> records = {
      dump("fresh", 30h, 100), dump("stale", 37h, 100), dump("unscheduled", 1h, 100)};
  const auto status = client_status("c", records, daily({"fresh", "stale", "never"}), {}, now);
  EXPECT_EQ(db_of(status, "fresh").at("state"), "ok");
  EXPECT_EQ(db_of(status, "fresh").at("age_seconds").to_number<double>(), 30 * 3600);
  EXPECT_EQ(db_of(status, "stale").at("state"), "late") << "past 1.5 intervals";
  EXPECT_EQ(db_of(status, "never").at("state"), "missing");
  EXPECT_TRUE(db_of(status, "never").at("newest").is_null());
  EXPECT_EQ(db_of(status, "unscheduled").at("state"), "unknown");
  EXPECT_EQ(client_status("c", records, {}, {}, now).at("schedule"), nullptr);
}

TEST(StatusView, TheLast30SizesOldestFirstAndAnOutlierFlagged) {
  std::vector<wire::backup_record> records;
  for (int i = 40; i >= 1; --i)
    records.push_back(dump("app", std::chrono::hours(i * 24), 1000 + static_cast<unsigned>(i)));
  records.push_back(dump("app", 1h, 90));  // a tenth of the usual
  const auto status = client_status("c", records, daily({"app"}), {}, now);
  const auto& app = db_of(status, "app");
  const auto& sizes = app.at("sizes").as_array();
  ASSERT_EQ(sizes.size(), receiver::sizes_shown);
  EXPECT_EQ(sizes.back().at("size"), 90);
  EXPECT_EQ(sizes.front().at("size"), 1029) << "oldest first";
  ASSERT_TRUE(app.at("size_outlier").is_object());
  EXPECT_EQ(app.at("size_outlier").at("size"), 90);

  records.back().size = 1100;  // within a factor of two
  EXPECT_TRUE(db_of(client_status("c", records, daily({"app"}), {}, now), "app")
                  .at("size_outlier")
                  .is_null());
}

TEST(StatusView, TheNewestDrillOfEachKindAndScrubFindings) {
  auto reports = daily({"app"});
  for (const auto& [kind, result] : std::vector<std::pair<std::string, std::string>>{
           {"logical", "failed"}, {"pitr", "ok"}, {"logical", "ok"}}) {
    wire::drill_report d;
    d.database = "app";
    d.drill = kind;
    d.result = result;
    d.rows = 7;
    reports.drills["app"].push_back(d);
  }
  reports.findings["app"].push_back({"app-1.dump", "sha256 differs", "2026-12-07T00:00:00Z"});
  const auto status = client_status("c", {dump("app", 1h, 5)}, reports, {}, now);
  const auto& app = db_of(status, "app");
  EXPECT_EQ(app.at("drills").at("logical").at("result"), "ok") << "the newest";
  EXPECT_EQ(app.at("drills").at("pitr").at("result"), "ok");
  EXPECT_EQ(app.at("scrub").at("findings"), 1);
  EXPECT_EQ(app.at("scrub").at("last_finding").at("id"), "app-1.dump");
}

TEST(StatusView, TheArchiveShowsItsWindowAndTheNewestWalsAge) {
  wire::wal::archive_state a;
  a.system = "7312";
  a.pitr = wire::wal::pitr_window{
      std::chrono::duration_cast<std::chrono::milliseconds>((now - 48h).time_since_epoch()).count(),
      std::chrono::duration_cast<std::chrono::milliseconds>((now - 2s).time_since_epoch()).count()};
  a.gaps.resize(1);
  const auto status = client_status("c", {}, {}, {a}, now);
  const auto& archive = status.at("archives").as_array().at(0).as_object();
  EXPECT_EQ(archive.at("system"), "7312");
  EXPECT_EQ(archive.at("lag_seconds").to_number<double>(), 2.0);
  EXPECT_EQ(archive.at("gaps"), 1);
}

TEST(ReportWire, DrillAndScheduleReportsRoundTripAndBadOnesAreRefused) {
  wire::drill_report d;
  d.database = "app";
  d.backup = "app-20261207-030000.dump";
  d.drill = "logical";
  d.result = "ok";
  d.recovery_seconds = 12.5;
  d.rows = 1000;
  std::string why;
  const auto back = wire::decode_report(wire::encode_report({d, std::nullopt}), why);
  ASSERT_TRUE(back && back->drill) << why;
  EXPECT_EQ(back->drill->rows, 1000u);
  EXPECT_EQ(back->drill->recovery_seconds, 12.5);
  for (
      const char* bad :
      {R"({"kind":"drill","database":"../etc","drill":"logical","result":"ok","recovery_seconds":1})",
       R"({"kind":"drill","database":"app","drill":"odd","result":"ok","recovery_seconds":1})",
       R"({"kind":"drill","database":"app","drill":"pitr","result":"ok","recovery_seconds":1,"rows":-3})",
       R"({"kind":"schedule","databases":["a b"]})", R"({"kind":"other"})", "[]"}) {
    EXPECT_FALSE(wire::decode_report(bad, why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
}  // namespace pgship::test

// Events and their webhook forms (common/events): schema v1 round trip, WEBHOOK_EVENTS
// patterns and typos, the HMAC signature (RFC 4231's vector), Slack, ntfy and Alertmanager
// renderings, and a success that resolves exactly the alert its failure fired.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/events/event.hpp>
#include <pgship/common/events/webhook_format.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::test {
namespace {

using namespace pgship::events;
namespace json = boost::json;

event failed_backup() {
  auto e = make_event("backup.failed", "agent");
  e.database = "app";
  e.run_id = "20261207T030000Z-abcdef";
  e.result = "failed";
  e.error_code = "dump_failed";
  e.exit_code = 15;
  e.message = "pg_dump: error: ERROR:  permission denied for table trades";
  e.duration_seconds = 1.5;
  e.details["rows"] = 12;
  return e;
}

TEST(Events, SchemaV1CarriesEveryFieldAndReadsBack) {
  const auto e = failed_backup();
  const auto o = to_json(e);
  EXPECT_EQ(o.at("schema"), "pgship.event.v1");
  EXPECT_EQ(o.at("event"), "backup.failed");
  EXPECT_EQ(o.at("error").at("code"), "dump_failed");
  EXPECT_EQ(o.at("error").at("exit_code"), 15);
  EXPECT_EQ(o.at("version").as_string(), e.version);
  EXPECT_FALSE(o.contains("backup")) << "empty fields are left out";
  const auto back = from_json(to_json_text(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->error_code, "dump_failed");
  EXPECT_EQ(back->exit_code, 15);
  EXPECT_EQ(back->message, e.message);
  EXPECT_EQ(back->details.at("rows"), 12);
  EXPECT_EQ(to_json_text(*back), to_json_text(e));
  EXPECT_FALSE(from_json(R"({"schema":"pgship.event.v2","id":"x","event":"y"})"));
  EXPECT_NE(make_event("a", "agent").id, make_event("a", "agent").id);
}

TEST(Events, PatternsMatchNamesKindsAndOutcomes) {
  const std::vector<std::string> p = {"backup.failed", "drill.*", "*.low"};
  EXPECT_TRUE(listed(p, "backup.failed"));
  EXPECT_FALSE(listed(p, "backup.succeeded"));
  EXPECT_TRUE(listed(p, "drill.succeeded"));
  EXPECT_TRUE(listed(p, "storage.low"));
  EXPECT_TRUE(listed(std::vector<std::string>{"*"}, "wal.gap"));
  EXPECT_EQ(unknown_patterns(std::vector<std::string>{"backup.failed", "backup.faild", "x.*"}),
            (std::vector<std::string>{"backup.faild", "x.*"}));
}

TEST(Events, SignatureIsHmacSha256OfTheBody) {
  // RFC 4231, test case 2.
  EXPECT_EQ(signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const auto r = render(failed_backup(), webhook_format::json, "s3cret");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "X-Pgship-Signature");
  EXPECT_EQ(r.headers[0].second, signature("s3cret", r.body));
  EXPECT_TRUE(render(failed_backup(), webhook_format::json, "").headers.empty());
}

TEST(Events, SlackAndNtfySayWhatHappenedInOneLine) {
  const auto slack = render(failed_backup(), webhook_format::slack, "");
  const auto text = std::string(json::parse(slack.body).at("text").as_string());
  EXPECT_NE(text.find("backup failed on"), std::string::npos) << text;
  EXPECT_NE(text.find("app: dump_failed: pg_dump: error"), std::string::npos) << text;
  const auto ntfy = render(failed_backup(), webhook_format::ntfy, "");
  EXPECT_EQ(ntfy.content_type, "text/plain; charset=utf-8");
  EXPECT_NE(ntfy.body.find("permission denied"), std::string::npos);
  std::map<std::string, std::string> h(ntfy.headers.begin(), ntfy.headers.end());
  EXPECT_EQ(h["Title"], "pgship: backup failed (app)");
  EXPECT_EQ(h["Priority"], "high");
  EXPECT_EQ(h["Tags"], "rotating_light");
}

TEST(Events, AlertmanagerFiresForAWeekAndTheSuccessResolvesTheSameAlert) {
  const auto failed = failed_backup();
  const auto fired = render(failed, webhook_format::alertmanager, "");
  EXPECT_EQ(fired.path_suffix, "/api/v2/alerts");
  const auto fire = json::parse(fired.body).as_array().at(0).as_object();
  EXPECT_EQ(fire.at("labels").at("alertname"), "PgshipBackupFailed");
  EXPECT_EQ(fire.at("labels").at("database"), "app");
  const auto starts = *parse_utc(std::string(fire.at("startsAt").as_string()));
  const auto ends = *parse_utc(std::string(fire.at("endsAt").as_string()));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::hours>(ends - starts), alert_lifetime);

  auto ok = make_event("backup.succeeded", "agent");
  ok.database = "app";
  const auto resolved = json::parse(render(ok, webhook_format::alertmanager, "").body);
  const auto& res = resolved.as_array().at(0).as_object();
  EXPECT_EQ(res.at("labels"), fire.at("labels")) << "the same alert";
  EXPECT_EQ(res.at("endsAt"), res.at("startsAt")) << "ends now: resolved";

  const std::vector<std::string> failures = {"backup.failed"};
  EXPECT_TRUE(wanted(failures, webhook_format::alertmanager, "backup.succeeded"));
  EXPECT_FALSE(wanted(failures, webhook_format::json, "backup.succeeded"))
      << "a success goes to a chat only when asked for";
  EXPECT_FALSE(wanted(failures, webhook_format::alertmanager, "drill.succeeded"));
}

}  // namespace
}  // namespace pgship::test

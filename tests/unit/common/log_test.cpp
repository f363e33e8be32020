#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <pgship/common/log.hpp>

#include "captured_log.hpp"

namespace pgship::log {
namespace {

using namespace std::chrono_literals;

// 2026-01-01T03:04:05.123Z
const std::chrono::system_clock::time_point fixed_time =
    std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + 3h + 4min + 5s + 123ms;

// Builds a record's payload exactly as log::write does (see src/log.cpp): GS msg RS key US
// value US flag [RS key US value US flag]..., flag '"' for strings, '-' otherwise.
std::string payload_of(std::string_view msg, const std::vector<field>& fields) {
  std::string out = '\x1d' + std::string(msg);
  for (const auto& f : fields) {
    out += '\x1e';
    out += f.key;
    out += '\x1f';
    out += f.value;
    out += '\x1f';
    out += f.quoted ? '"' : '-';
  }
  return out;
}

std::vector<field> sample_fields() {
  return {
      {"database", "mydb"},
      {"count", 42},
      {"neg", std::int64_t{-7}},
      {"bytes", std::numeric_limits<std::uint64_t>::max()},
      {"ok", true},
      {"failed", false},
      {"note", std::string("say \"hi\" to a b")},
      {"ratio", 0.25},
      {"huge", 1e300},
      {"nan", std::numeric_limits<double>::quiet_NaN()},
      {"inf", -std::numeric_limits<double>::infinity()},
      {"empty", ""},
  };
}

// The line without its final newline, which must be the only one.
std::string_view one_line(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  return std::string_view(line).substr(0, line.size() - 1);
}

// --- field ------------------------------------------------------------------------------------

TEST(log_field_test, values_and_quoting) {
  const field s("k", "v");
  EXPECT_EQ(s.value, "v");
  EXPECT_TRUE(s.quoted);
  const field i("k", 42);
  EXPECT_EQ(i.value, "42");
  EXPECT_FALSE(i.quoted);
  const field u("k", std::uint64_t{18446744073709551615u});
  EXPECT_EQ(u.value, "18446744073709551615");
  EXPECT_FALSE(u.quoted);
  const field b("k", true);
  EXPECT_EQ(b.value, "true");
  EXPECT_FALSE(b.quoted);
  const field d("k", 0.5);
  EXPECT_EQ(d.value, "0.5");
  EXPECT_FALSE(d.quoted);
  const field n("k", std::nan(""));
  EXPECT_EQ(n.value, "nan");
  EXPECT_TRUE(n.quoted);
  const field inf("k", std::numeric_limits<double>::infinity());
  EXPECT_EQ(inf.value, "inf");
  EXPECT_TRUE(inf.quoted);
}

// --- json -------------------------------------------------------------------------------------

TEST(log_format_json_test, line_with_fields_is_one_json_object) {
  const std::string line = format_line(format::json, spdlog::level::info,
                                       payload_of("backup done", sample_fields()), fixed_time);
  const auto json = boost::json::parse(one_line(line));
  ASSERT_TRUE(json.is_object()) << line;
  const auto& obj = json.as_object();

  EXPECT_EQ(obj.at("ts").as_string(), "2026-01-01T03:04:05.123Z");
  EXPECT_EQ(obj.at("level").as_string(), "info");
  EXPECT_EQ(obj.at("msg").as_string(), "backup done");
  EXPECT_EQ(obj.at("database").as_string(), "mydb");
  EXPECT_EQ(obj.at("count").as_int64(), 42);
  EXPECT_EQ(obj.at("neg").as_int64(), -7);
  EXPECT_EQ(obj.at("bytes").as_uint64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(obj.at("ok").as_bool(), true);
  EXPECT_EQ(obj.at("failed").as_bool(), false);
  EXPECT_EQ(obj.at("note").as_string(), "say \"hi\" to a b");
  EXPECT_EQ(obj.at("ratio").as_double(), 0.25);
  EXPECT_EQ(obj.at("huge").as_double(), 1e300);
  EXPECT_EQ(obj.at("nan").as_string(), "nan");
  EXPECT_EQ(obj.at("inf").as_string(), "-inf");
  EXPECT_EQ(obj.at("empty").as_string(), "");
  EXPECT_EQ(obj.size(), 15u);
}

TEST(log_format_json_test, ts_level_msg_come_first_then_fields_in_order) {
  const std::string line = format_line(format::json, spdlog::level::warn,
                                       payload_of("m", {{"b", 1}, {"a", "x"}}), fixed_time);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-01-01T03:04:05.123Z\",\"level\":\"warn\",\"msg\":\"m\",\"b\":1,"
            "\"a\":\"x\"}\n");
  const auto obj = boost::json::parse(one_line(line)).as_object();
  std::vector<std::string> keys;
  for (const auto& kv : obj)
    keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "msg", "b", "a"}));
}

TEST(log_format_json_test, message_without_fields) {
  const std::string line =
      format_line(format::json, spdlog::level::err, "plain message", fixed_time);
  EXPECT_EQ(
      line,
      "{\"ts\":\"2026-01-01T03:04:05.123Z\",\"level\":\"error\",\"msg\":\"plain message\"}\n");
}

TEST(log_format_json_test, special_characters_are_escaped) {
  const std::string msg = "two\nlines \"quoted\" \\ tab\t bell\x07";
  const std::string value = "v\r\n\"x\"";
  const std::string line =
      format_line(format::json, spdlog::level::info, payload_of(msg, {{"k", value}}), fixed_time);
  const auto obj = boost::json::parse(one_line(line)).as_object();
  EXPECT_EQ(obj.at("msg").as_string(), msg);
  EXPECT_EQ(obj.at("k").as_string(), value);
}

TEST(log_format_json_test, level_names) {
  const std::pair<spdlog::level::level_enum, std::string_view> levels[] = {
      {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"},
      {spdlog::level::info, "info"},   {spdlog::level::warn, "warn"},
      {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"},
  };
  for (const auto& [level, name] : levels) {
    const auto obj =
        boost::json::parse(one_line(format_line(format::json, level, "m", fixed_time))).as_object();
    EXPECT_EQ(obj.at("level").as_string(), name);
  }
}

TEST(log_format_json_test, timestamp_keeps_milliseconds_and_is_utc) {
  const auto t =
      std::chrono::sys_days{std::chrono::year{1999} / 12 / 31} + 23h + 59min + 59s + 7ms + 999us;
  const auto obj =
      boost::json::parse(one_line(format_line(format::json, spdlog::level::info, "m", t)))
          .as_object();
  EXPECT_EQ(obj.at("ts").as_string(), "1999-12-31T23:59:59.007Z");
}

// --- text -------------------------------------------------------------------------------------

TEST(log_format_text_test, line_with_fields) {
  const std::string line = format_line(format::text, spdlog::level::info,
                                       payload_of("backup done", {{"database", "mydb"},
                                                                  {"count", 42},
                                                                  {"ok", true},
                                                                  {"note", "say \"hi\" to a b"},
                                                                  {"eq", "a=b"},
                                                                  {"empty", ""},
                                                                  {"ratio", 0.25},
                                                                  {"nan", std::nan("")}}),
                                       fixed_time);
  EXPECT_EQ(line,
            "2026-01-01T03:04:05.123Z info backup done database=mydb count=42 ok=true "
            "note=\"say \\\"hi\\\" to a b\" eq=\"a=b\" empty=\"\" ratio=0.25 nan=nan\n");
}

TEST(log_format_text_test, key_value_pairs) {
  const std::string line = format_line(format::text, spdlog::level::warn,
                                       payload_of("disk low", {{"free_bytes", 1024}}), fixed_time);
  EXPECT_NE(line.find(" free_bytes=1024"), std::string::npos) << line;
  EXPECT_EQ(line, "2026-01-01T03:04:05.123Z warn disk low free_bytes=1024\n");
}

TEST(log_format_text_test, control_characters_in_values_are_quoted_and_escaped) {
  const std::string line = format_line(format::text, spdlog::level::err,
                                       payload_of("m", {{"path", "a\nb"}}), fixed_time);
  EXPECT_EQ(line, "2026-01-01T03:04:05.123Z error m path=\"a\\nb\"\n");
}

TEST(log_format_text_test, message_without_fields) {
  EXPECT_EQ(format_line(format::text, spdlog::level::critical, "giving up", fixed_time),
            "2026-01-01T03:04:05.123Z critical giving up\n");
}

TEST(log_format_test, incomplete_field_records_are_skipped) {
  // A record separator followed by something that is not key US value US flag.
  const std::string payload =
      std::string("\x1dm") + '\x1e' + "junk" + '\x1e' + "k" + '\x1f' + "v" + '\x1f' + '-';
  EXPECT_EQ(format_line(format::text, spdlog::level::info, payload, fixed_time),
            "2026-01-01T03:04:05.123Z info m k=v\n");
}

// --- write() produces what format_line reads ---------------------------------------------------

using test::captured_log;

TEST(log_write_test, payload_round_trips_through_format_line) {
  std::string payload;
  {
    captured_log capture(spdlog::level::info);
    write(spdlog::level::info, "uploaded", sample_fields());
    payload = capture.text();
  }
  ASSERT_FALSE(payload.empty());
  ASSERT_EQ(payload.back(), '\n');
  payload.pop_back();
  EXPECT_EQ(payload, payload_of("uploaded", sample_fields()));

  const auto obj = boost::json::parse(one_line(format_line(format::json, spdlog::level::info,
                                                           payload, fixed_time)))
                       .as_object();
  EXPECT_EQ(obj.at("msg").as_string(), "uploaded");
  EXPECT_EQ(obj.at("database").as_string(), "mydb");
  EXPECT_EQ(obj.at("count").as_int64(), 42);
  EXPECT_EQ(obj.at("nan").as_string(), "nan");
}

TEST(log_write_test, respects_the_level) {
  captured_log capture(spdlog::level::warn);
  write(spdlog::level::info, "hidden", {{"k", 1}});
  write(spdlog::level::debug, "hidden", {});
  EXPECT_EQ(capture.text(), "");
  write(spdlog::level::err, "shown", {});
  EXPECT_EQ(capture.text(), "\x1dshown\n");
}

// --- client bytes cannot forge lines or fields ------------------------------------------------

TEST(log_escape_test, text_message_stays_one_line) {
  const std::string msg =
      std::string("upload of evil.dump\n2026-01-01T00:00:00.000Z error forged") + "\r" + '\0' +
      "\x1b[31m";
  const std::string line = format_line(format::text, spdlog::level::info, msg, fixed_time);
  EXPECT_EQ(line,
            "2026-01-01T03:04:05.123Z info upload of evil.dump\\n2026-01-01T00:00:00.000Z error "
            "forged\\r\\x00\\x1b[31m\n");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST(log_escape_test, plain_message_separators_are_not_fields) {
  // A plain spdlog call formatting a client's name that holds the payload's separators.
  const std::string msg =
      std::string("stored x") + '\x1e' + "level" + '\x1f' + "critical" + '\x1f' + '"';
  const auto obj =
      boost::json::parse(one_line(format_line(format::json, spdlog::level::info, msg, fixed_time)))
          .as_object();
  EXPECT_EQ(obj.at("level").as_string(), "info");
  EXPECT_EQ(obj.at("msg").as_string(), msg);
  EXPECT_EQ(obj.size(), 3u);
}

TEST(log_escape_test, write_keeps_separators_out_of_fields) {
  std::string payload;
  {
    captured_log capture(spdlog::level::info);
    const std::string forged = std::string("a") + '\x1e' + "level" + '\x1f' + "x" + '\x1f' + '"';
    write(spdlog::level::info, forged, {{"backup", forged}});
    payload = capture.text();
  }
  payload.pop_back();
  const auto obj = boost::json::parse(one_line(format_line(format::json, spdlog::level::info,
                                                           payload, fixed_time)))
                       .as_object();
  EXPECT_EQ(obj.size(), 4u);  // ts, level, msg, backup
  EXPECT_EQ(obj.at("level").as_string(), "info");
  EXPECT_EQ(obj.at("backup").as_string(), "a\\x1elevel\\x1fx\\x1f\"");
  const auto text = format_line(format::text, spdlog::level::info, payload, fixed_time);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(text.find('\x1e'), std::string::npos);
}

TEST(log_context_test, carries_its_fields) {
  const context base{{"run_id", "r-1"}};
  const context more = base.with({{"database", "mydb"}, {"attempt", 2}});
  ASSERT_EQ(base.fields().size(), 1u);
  ASSERT_EQ(more.fields().size(), 3u);
  EXPECT_EQ(more.fields()[0].key, "run_id");
  EXPECT_EQ(more.fields()[1].key, "database");
  EXPECT_EQ(more.fields()[2].key, "attempt");
  EXPECT_EQ(more.fields()[2].value, "2");
  EXPECT_FALSE(more.fields()[2].quoted);

  captured_log capture(spdlog::level::debug);
  more.info("run {} of {}", 2, 3);
  more.log(spdlog::level::trace, "not shown");
  std::string payload = capture.text();
  ASSERT_FALSE(payload.empty());
  payload.pop_back();
  EXPECT_EQ(format_line(format::text, spdlog::level::info, payload, fixed_time),
            "2026-01-01T03:04:05.123Z info run 2 of 3 run_id=r-1 database=mydb attempt=2\n");
}

// --- parse_format / parse_level ---------------------------------------------------------------

TEST(log_parse_test, formats) {
  EXPECT_EQ(parse_format("text"), format::text);
  EXPECT_EQ(parse_format("json"), format::json);
  EXPECT_EQ(parse_format(""), std::nullopt);
  EXPECT_EQ(parse_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_format("logfmt"), std::nullopt);
}

TEST(log_parse_test, levels) {
  EXPECT_EQ(parse_level("trace"), spdlog::level::trace);
  EXPECT_EQ(parse_level("debug"), spdlog::level::debug);
  EXPECT_EQ(parse_level("info"), spdlog::level::info);
  EXPECT_EQ(parse_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_level("warning"), spdlog::level::warn);
  EXPECT_EQ(parse_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_level("critical"), spdlog::level::critical);
  EXPECT_EQ(parse_level("off"), spdlog::level::off);
  EXPECT_EQ(parse_level(""), std::nullopt);
  EXPECT_EQ(parse_level("err"), std::nullopt);
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
}

}  // namespace
}  // namespace pgship::log

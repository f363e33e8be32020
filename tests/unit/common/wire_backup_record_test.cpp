#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/backup_record.hpp>

namespace pgship::wire {
namespace {

backup_record sample() {
  backup_record r;
  r.id = "app-20261121-030000.dump.zst";
  r.client = "db1";
  r.database = "app";
  r.size = 123456789012ull;
  r.sha256 = std::string(64, 'a');
  r.taken = *parse_utc("2026-11-21T03:00:00Z");
  r.uploaded = *parse_utc("2026-11-21T03:04:05Z");
  return r;
}

TEST(WireBackupRecord, RoundTrips) {
  const auto r = sample();
  EXPECT_EQ(record_from_json(to_json(r)), r);
  const std::vector<backup_record> list{r, r};
  EXPECT_EQ(records_from_json(to_json(list)), list);
  EXPECT_EQ(records_from_json("[]"), std::vector<backup_record>{});
}

// The receiver's field names, as GET /api/backup/list has always spelled them.
TEST(WireBackupRecord, KeepsTheReceiversFieldNames) {
  EXPECT_EQ(
      to_json(sample()),
      "{\"id\":\"app-20261121-030000.dump.zst\",\"filename\":\"app-20261121-030000.dump.zst\","
      "\"client\":\"db1\",\"database\":\"app\",\"kind\":\"dump\",\"size\":123456789012,"
      "\"sha256\":\"" +
          std::string(64, 'a') +
          "\",\"created_at\":\"2026-11-21T03:00:00Z\","
          "\"uploaded_at\":\"2026-11-21T03:04:05Z\"}");
  auto globals = sample();
  globals.id = "globals-20261121-030000.sql.zst";
  globals.database = "globals";
  const auto o = boost::json::parse(to_json(globals)).as_object();
  EXPECT_EQ(kind_of(globals), backup_kind::globals);
  EXPECT_EQ(o.at(record_field::kind).as_string(), "globals");
}

TEST(WireBackupRecord, RefusesAnIncompleteRecord) {
  const auto whole = boost::json::parse(to_json(sample())).as_object();
  for (const auto field :
       {record_field::id, record_field::client, record_field::database, record_field::size,
        record_field::sha256, record_field::created_at, record_field::uploaded_at}) {
    auto o = whole;
    o.erase(field);
    EXPECT_EQ(record_from_json(boost::json::serialize(o)), std::nullopt) << field;
    EXPECT_EQ(records_from_json("[" + boost::json::serialize(o) + "]"), std::nullopt) << field;
  }
  EXPECT_EQ(record_from_json("[]"), std::nullopt);
  EXPECT_EQ(records_from_json("{}"), std::nullopt);
  EXPECT_EQ(records_from_json("[1]"), std::nullopt);
  EXPECT_EQ(records_from_json("not json"), std::nullopt);
  auto bad_time = whole;
  bad_time[record_field::created_at] = "yesterday";
  EXPECT_EQ(record_from_json(boost::json::serialize(bad_time)), std::nullopt);
}

}  // namespace
}  // namespace pgship::wire

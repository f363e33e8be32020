#include "wal/replication_protocol.hpp"
#include <vector>

#include <gtest/gtest.h>

namespace pgship::agent::wal {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int v : values)
    out.push_back(static_cast<std::byte>(v));
  return out;
}

pg_table one_row(std::vector<std::string> columns, std::vector<std::optional<std::string>> row) {
  pg_table t;
  t.status = pg_table::state::tuples_ok;
  t.columns = std::move(columns);
  t.rows.push_back(std::move(row));
  return t;
}

TEST(ReplicationProtocol, ParsesXLogData) {
  // 'w', dataStart 0/3000028, walEnd 0/3000100, sendTime 1 s after 2000-01-01, payload "ab".
  const auto message = bytes({'w', 0,    0, 0, 0, 0x03, 0, 0, 0x28, 0,    0,    0,   0,  0x03,
                              0,   0x01, 0, 0, 0, 0,    0, 0, 0x0F, 0x42, 0x40, 'a', 'b'});
  std::string why;
  const auto m = parse_server_message(message, why);
  ASSERT_TRUE(m) << why;
  ASSERT_EQ(m->type, server_message::kind::xlog_data);
  EXPECT_EQ(m->data.data_start, 0x3000028u);
  EXPECT_EQ(m->data.wal_end, 0x3000100u);
  EXPECT_EQ(m->data.send_time, 1000000);
  ASSERT_EQ(m->data.payload.size(), 2u);
  EXPECT_EQ(static_cast<char>(m->data.payload[0]), 'a');
  EXPECT_EQ(static_cast<char>(m->data.payload[1]), 'b');
}

TEST(ReplicationProtocol, ParsesXLogDataWithoutPayload) {
  const auto message =
      bytes({'w', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  std::string why;
  const auto m = parse_server_message(message, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->data.data_start, 0x100000000u);
  EXPECT_TRUE(m->data.payload.empty());
}

TEST(ReplicationProtocol, ParsesKeepalive) {
  const auto message = bytes({'k', 0, 0, 0, 0x16, 0xB3, 0x74, 0xD8, 0x48, 0xFF, 0xFF, 0xFF, 0xFF,
                              0xFF, 0xFF, 0xFF, 0xFE, 1});
  std::string why;
  const auto m = parse_server_message(message, why);
  ASSERT_TRUE(m) << why;
  ASSERT_EQ(m->type, server_message::kind::keepalive);
  EXPECT_EQ(pgship::wal::format_lsn(m->alive.wal_end), "16/B374D848");
  EXPECT_EQ(m->alive.send_time, -2);  // before the epoch: signed
  EXPECT_TRUE(m->alive.reply_requested);
  auto quiet = message;
  quiet.back() = std::byte{0};
  EXPECT_FALSE(parse_server_message(quiet, why)->alive.reply_requested);
}

TEST(ReplicationProtocol, RefusesShortAndUnknownMessages) {
  std::string why;
  EXPECT_FALSE(parse_server_message(bytes({'w', 0, 0, 0}), why));
  EXPECT_NE(why.find("XLogData"), std::string::npos);
  EXPECT_FALSE(
      parse_server_message(bytes({'k', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), why));
  EXPECT_FALSE(parse_server_message(bytes({'x', 1, 2}), why));
  EXPECT_FALSE(parse_server_message({}, why));
}

TEST(ReplicationProtocol, BuildsTheExact34ByteStatusUpdate) {
  standby_status s;
  s.write = 0x0000000103000100;
  s.flush = 0x0000000103000000;
  s.apply = 0;
  s.send_time = 0x0102030405060708;
  s.reply_requested = true;
  const auto out = build_standby_status(s);
  const auto expected = bytes({'r', 0, 0, 0, 1, 3, 0, 1, 0,  // write
                               0,   0, 0, 1, 3, 0, 0, 0,     // flush
                               0,   0, 0, 0, 0, 0, 0, 0,     // apply
                               1,   2, 3, 4, 5, 6, 7, 8,     // sendTime
                               1});
  ASSERT_EQ(out.size(), 34u);
  EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), expected);
  s.reply_requested = false;
  EXPECT_EQ(build_standby_status(s)[33], std::byte{0});
}

TEST(ReplicationProtocol, ConvertsThePostgresEpoch) {
  // 2000-01-01 00:00:00 UTC is Unix 946684800.
  const auto epoch = std::chrono::system_clock::time_point(946684800s);
  EXPECT_EQ(to_pg_time(epoch), 0);
  EXPECT_EQ(to_pg_time(epoch + 1500ms), 1500000);
  EXPECT_EQ(from_pg_time(2500000), epoch + 2500ms);
  EXPECT_EQ(to_pg_time(from_pg_time(123456789)), 123456789);
  EXPECT_EQ(pg_time_to_unix_ms(0), 946684800000);
  EXPECT_EQ(pg_time_to_unix_ms(1999), 946684800001);
  EXPECT_EQ(to_pg_time(std::chrono::system_clock::time_point{}), -946684800000000);
}

TEST(ReplicationProtocol, ParsesSizeSettings) {
  EXPECT_EQ(parse_size_setting("1MB"), 1u << 20);
  EXPECT_EQ(parse_size_setting("16MB"), 16u << 20);
  EXPECT_EQ(parse_size_setting("1GB"), 1u << 30);
  EXPECT_EQ(parse_size_setting("64kB"), 64u << 10);
  EXPECT_EQ(parse_size_setting("8192"), 8192u);
  EXPECT_EQ(parse_size_setting("8192B"), 8192u);
  EXPECT_FALSE(parse_size_setting("16 MB"));
  EXPECT_FALSE(parse_size_setting("MB"));
  EXPECT_FALSE(parse_size_setting("16mb"));
  EXPECT_FALSE(parse_size_setting(""));
}

TEST(ReplicationProtocol, ParsesTimeSettings) {
  EXPECT_EQ(parse_time_setting("60s"), 60s);
  EXPECT_EQ(parse_time_setting("1min"), 60s);
  EXPECT_EQ(parse_time_setting("0"), 0ms);
  EXPECT_EQ(parse_time_setting("500ms"), 500ms);
  EXPECT_EQ(parse_time_setting("2h"), 2h);
  EXPECT_EQ(parse_time_setting("1d"), 24h);
  EXPECT_FALSE(parse_time_setting("-1"));
  EXPECT_FALSE(parse_time_setting("1 min"));
  EXPECT_FALSE(parse_time_setting("1y"));
}

TEST(ReplicationProtocol, ParsesIdentifySystem) {
  std::string why;
  const auto id =
      parse_identify_system(one_row({"systemid", "timeline", "xlogpos", "dbname"},
                                    {"7312345678901234567", "3", "0/3000148", std::nullopt}),
                            why);
  ASSERT_TRUE(id) << why;
  EXPECT_EQ(id->system_id, "7312345678901234567");
  EXPECT_EQ(id->timeline, 3u);
  EXPECT_EQ(id->xlog_pos, 0x3000148u);
  EXPECT_FALSE(parse_identify_system(
      one_row({"systemid", "timeline", "xlogpos"}, {"abc", "1", "0/1"}), why));
  EXPECT_FALSE(parse_identify_system(one_row({"systemid"}, {"1"}), why));
}

TEST(ReplicationProtocol, ParsesReadReplicationSlot) {
  std::string why;
  const std::vector<std::string> columns = {"slot_type", "restart_lsn", "restart_tli"};
  const auto absent = parse_read_replication_slot(
      one_row(columns, {std::nullopt, std::nullopt, std::nullopt}), why);
  ASSERT_TRUE(absent) << why;
  EXPECT_FALSE(absent->exists);
  const auto slot =
      parse_read_replication_slot(one_row(columns, {"physical", "0/1000028", "1"}), why);
  ASSERT_TRUE(slot) << why;
  EXPECT_TRUE(slot->exists);
  EXPECT_EQ(slot->type, "physical");
  EXPECT_EQ(slot->restart_lsn, 0x1000028u);
  EXPECT_EQ(slot->restart_tli, 1u);
  // A lost slot: physical, no restart_lsn.
  const auto lost =
      parse_read_replication_slot(one_row(columns, {"physical", std::nullopt, std::nullopt}), why);
  ASSERT_TRUE(lost);
  EXPECT_TRUE(lost->exists);
  EXPECT_FALSE(lost->restart_lsn);
  EXPECT_FALSE(parse_read_replication_slot(one_row(columns, {"physical", "nonsense", "1"}), why));
}

TEST(ReplicationProtocol, ParsesTimelineEndAndSingleValues) {
  const auto end =
      parse_timeline_end(one_row({"next_tli", "next_tli_startpos"}, {"2", "0/5000A0"}));
  ASSERT_TRUE(end);
  EXPECT_EQ(end->next_timeline, 2u);
  EXPECT_EQ(end->next_start, 0x5000A0u);
  EXPECT_EQ(single_value(one_row({"wal_segment_size"}, {"16MB"})), "16MB");
  EXPECT_FALSE(single_value(pg_table{}));
}

TEST(ReplicationProtocol, QuotesSlotNamesInCommands) {
  EXPECT_EQ(start_replication_command("pgship", 0x3000000, 2),
            "START_REPLICATION SLOT \"pgship\" PHYSICAL 0/3000000 TIMELINE 2");
  EXPECT_EQ(read_slot_command("pgship"), "READ_REPLICATION_SLOT \"pgship\"");
  EXPECT_EQ(create_slot_command("a\"b"),
            "CREATE_REPLICATION_SLOT \"a\"\"b\" PHYSICAL (RESERVE_WAL)");
}

}  // namespace
}  // namespace pgship::agent::wal

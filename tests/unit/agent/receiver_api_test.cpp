#include "net/receiver_api.hpp"

#include <gtest/gtest.h>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/backup_record.hpp>

namespace pgship::agent {
namespace {

wire::backup_record stored(std::string id, std::string database) {
  wire::backup_record r;
  r.id = std::move(id);
  r.client = "db1";
  r.database = std::move(database);
  r.size = 42;
  r.sha256 = std::string(64, 'b');
  r.taken = *parse_utc("2026-11-21T03:00:00Z");
  r.uploaded = *parse_utc("2026-11-21T03:01:02Z");
  return r;
}

// The agent reads the list through the receiver's own codec.
TEST(ParseBackupList, ReadsWhatTheReceiverWrites) {
  const std::vector<wire::backup_record> list{stored("app-20261121-030000.dump", "app"),
                                              stored("globals-20261121-030000.sql", "globals")};
  const auto parsed = parse_backup_list(wire::to_json(list));
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->size(), 2u);
  const auto& b = (*parsed)[0];
  EXPECT_EQ(b.id, "app-20261121-030000.dump");
  EXPECT_EQ(b.database, "app");
  EXPECT_EQ(b.size, 42u);
  EXPECT_EQ(b.sha256, std::string(64, 'b'));
  EXPECT_EQ(b.taken, "2026-11-21T03:00:00Z");
  EXPECT_EQ(b.uploaded, "2026-11-21T03:01:02Z");
  EXPECT_EQ(b.kind, backup_kind::dump);
  EXPECT_EQ((*parsed)[1].kind, backup_kind::globals);
}

TEST(ParseBackupList, RefusesPathsAndIncompleteRecords) {
  EXPECT_EQ(parse_backup_list(wire::to_json(std::vector{stored("../etc/passwd", "app")})),
            std::nullopt);
  EXPECT_EQ(parse_backup_list("[{\"id\":\"app-20261121-030000.dump\"}]"), std::nullopt);
  EXPECT_EQ(parse_backup_list("{}"), std::nullopt);
  EXPECT_TRUE(parse_backup_list("[]").has_value());
}

}  // namespace
}  // namespace pgship::agent

// WAL_* and REPLICATION_* as read_settings validates them.
#include <gtest/gtest.h>

#include <pgship/common/config.hpp>

#include "settings.hpp"

namespace pgship::agent {
namespace {

using namespace std::chrono_literals;

settings read(config::environment extra) {
  config::environment env = {{"POSTGRES_DB", "app"},
                             {"POSTGRES_USER", "backup"},
                             {"POSTGRES_PASSWORD", "pg-secret"},
                             {"BACKUP_API_URL", "http://127.0.0.1:9101"}};
  for (auto& [k, v] : extra)
    env[k] = v;
  return read_settings(config::config::load(config_schema(), std::nullopt, env));
}

std::string refusal(config::environment extra) {
  try {
    read(std::move(extra));
  } catch (const config::config_error& e) {
    return e.what();
  }
  return "";
}

TEST(SettingsWal, DefaultsAreOffAndFollowPostgresLogin) {
  const auto s = read({});
  EXPECT_FALSE(s.wal_stream);
  EXPECT_EQ(s.wal_slot, "pgship");
  EXPECT_EQ(s.wal_ack_interval, 1s);
  EXPECT_EQ(s.wal_max_lag, 60s);
  EXPECT_EQ(s.replication_user, "backup");
  EXPECT_EQ(s.replication_password, "pg-secret");
}

TEST(SettingsWal, ReadsItsKeys) {
  const auto s = read({{"WAL_STREAM", "on"},
                       {"WAL_SLOT", "pgship_2"},
                       {"WAL_ACK_INTERVAL", "250ms"},
                       {"WAL_MAX_LAG", "2m"},
                       {"REPLICATION_USER", "streamer"},
                       {"REPLICATION_PASSWORD", "repl-secret"}});
  EXPECT_TRUE(s.wal_stream);
  EXPECT_EQ(s.wal_slot, "pgship_2");
  EXPECT_EQ(s.wal_ack_interval, 250ms);
  EXPECT_EQ(s.wal_max_lag, 120s);
  EXPECT_EQ(s.replication_user, "streamer");
  EXPECT_EQ(s.replication_password, "repl-secret");
}

TEST(SettingsWal, RefusesBadSlotNames) {
  for (const char* bad : {"PgShip", "pg-ship", "pg ship", "slot\"x",
                          "a123456789012345678901234567890123456789012345678901234567890123"}) {
    const auto why = refusal({{"WAL_SLOT", bad}});
    EXPECT_NE(why.find("WAL_SLOT"), std::string::npos) << bad << ": " << why;
  }
  EXPECT_EQ(
      refusal({{"WAL_SLOT", "a12345678901234567890123456789012345678901234567890123456789012"}}),
      "");
}

TEST(SettingsWal, RefusesAckIntervalsOutsideTheRange) {
  EXPECT_NE(refusal({{"WAL_ACK_INTERVAL", "50ms"}}).find("WAL_ACK_INTERVAL"), std::string::npos);
  EXPECT_NE(refusal({{"WAL_ACK_INTERVAL", "2m"}}).find("WAL_ACK_INTERVAL"), std::string::npos);
  EXPECT_EQ(refusal({{"WAL_ACK_INTERVAL", "100ms"}}), "");
  EXPECT_EQ(refusal({{"WAL_ACK_INTERVAL", "60s"}}), "");
}

TEST(SettingsWal, StreamWithoutUploadIsAConfigError) {
  const auto why = refusal({{"WAL_STREAM", "on"}, {"UPLOAD", "off"}});
  EXPECT_NE(why.find("WAL_STREAM=on needs UPLOAD=on"), std::string::npos) << why;
  EXPECT_EQ(refusal({{"WAL_STREAM", "off"}, {"UPLOAD", "off"}}), "");
}

}  // namespace
}  // namespace pgship::agent

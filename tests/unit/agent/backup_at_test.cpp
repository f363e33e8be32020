// Restore by time (pipeline/backup_at): the time as written (RFC 3339, or a wall time in TZ),
// and the newest dump of a database taken at or before it, at the boundaries.
#include <cstdlib>
#include <ctime>

#include <gtest/gtest.h>

#include <pgship/common/time_text.hpp>

#include "pipeline/backup_at.hpp"
#include "zone_guard.hpp"

namespace pgship::test {
namespace {

using agent::dump_at;
using agent::dumps_at;
using agent::parse_backup_time;
using agent::remote_backup;

remote_backup dump(const std::string& database, const std::string& stamp_utc) {
  remote_backup b;
  b.database = database;
  b.taken = stamp_utc;
  b.id = database + "-" + stamp_utc.substr(0, 4) + stamp_utc.substr(5, 2) + stamp_utc.substr(8, 2) +
         "-" + stamp_utc.substr(11, 2) + stamp_utc.substr(14, 2) + stamp_utc.substr(17, 2) +
         ".dump";
  return b;
}

std::chrono::system_clock::time_point utc(const std::string& text) {
  return *parse_utc(text);
}

TEST(BackupAt, TimesAreRfc3339OrAWallTimeInTz) {
  std::string why;
  EXPECT_EQ(parse_backup_time("2026-03-01T12:00:00Z", why), utc("2026-03-01T12:00:00Z"));
  EXPECT_EQ(parse_backup_time("2026-03-01 13:00:00+01:00", why), utc("2026-03-01T12:00:00Z"));
  {
    const zone_guard kolkata("Asia/Kolkata");
    EXPECT_EQ(parse_backup_time("2026-03-01 17:30", why), utc("2026-03-01T12:00:00Z"));
    EXPECT_EQ(parse_backup_time("2026-03-01 17:30:05", why), utc("2026-03-01T12:00:05Z"));
  }
  {
    const zone_guard berlin("Europe/Berlin");
    // 02:30 on 2026-03-29 never happens (clocks go 02:00 -> 03:00): the end of the gap.
    EXPECT_EQ(parse_backup_time("2026-03-29 02:30", why), utc("2026-03-29T01:00:00Z"));
    // 02:30 on 2026-10-25 happens twice: the first.
    EXPECT_EQ(parse_backup_time("2026-10-25 02:30", why), utc("2026-10-25T00:30:00Z"));
  }
  for (const char* bad : {"tuesday", "2026-02-30 10:00", "2026-03-01 24:00", "2026-03-01",
                          "2026-03-01 10:00:60", "2026-3-1 10:00", "2026-03-01 -1:30"}) {
    EXPECT_FALSE(parse_backup_time(bad, why)) << bad;
    EXPECT_NE(why.find("in TZ"), std::string::npos) << why;
  }
}

TEST(BackupAt, TheNewestDumpAtOrBeforeTheTime) {
  const std::vector<remote_backup> backups{dump("app", "2026-03-02T03:00:00Z"),
                                           dump("app", "2026-03-01T03:00:00Z"),
                                           dump("crm", "2026-03-01T04:00:00Z")};
  std::string why;
  EXPECT_EQ(dump_at(backups, "app", utc("2026-03-01T03:00:00Z"), why)->id,
            "app-20260301-030000.dump")
      << "exactly at a backup's time: that one";
  EXPECT_EQ(dump_at(backups, "app", utc("2026-03-02T02:59:59Z"), why)->id,
            "app-20260301-030000.dump")
      << "between two: the older";
  EXPECT_EQ(dump_at(backups, "app", utc("2026-03-09T00:00:00Z"), why)->id,
            "app-20260302-030000.dump");
  EXPECT_FALSE(dump_at(backups, "app", utc("2026-03-01T02:59:59Z"), why));
  EXPECT_NE(why.find("the oldest is app-20260301-030000.dump, taken 2026-03-01T03:00:00Z"),
            std::string::npos)
      << why;
  EXPECT_FALSE(dump_at(backups, "", utc("2026-03-09T00:00:00Z"), why));
  EXPECT_NE(why.find("--database"), std::string::npos) << why;
  EXPECT_FALSE(dump_at(backups, "nope", utc("2026-03-09T00:00:00Z"), why));
  EXPECT_NE(why.find("no dump of database nope"), std::string::npos) << why;

  auto globals = dump("globals", "2026-03-01T05:00:00Z");
  globals.kind = backup_kind::globals;
  const std::vector<remote_backup> one{dump("app", "2026-03-01T03:00:00Z"), globals};
  EXPECT_EQ(dump_at(one, "", utc("2026-03-09T00:00:00Z"), why)->id, "app-20260301-030000.dump")
      << "one database dumped: no --database needed; the globals are no database";

  const auto each = dumps_at(backups, utc("2026-03-01T03:30:00Z"));
  ASSERT_EQ(each.size(), 2u);
  EXPECT_EQ(each[0].first, "app");
  EXPECT_EQ(each[0].second->id, "app-20260301-030000.dump");
  EXPECT_EQ(each[1].first, "crm");
  EXPECT_FALSE(each[1].second) << "crm's oldest dump is newer";
}

}  // namespace
}  // namespace pgship::test

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/backup_name.hpp>

namespace pgship {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;
using std::chrono::system_clock;

system_clock::time_point at(std::chrono::year_month_day date, std::chrono::seconds time_of_day) {
  return sys_days{date} + time_of_day;
}

TEST(parse_backup_name_test, parses_a_plain_name) {
  const auto parsed = parse_backup_name("app-20260101-030000.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->database, "app");
  EXPECT_EQ(parsed->taken, at(2026y / 1 / 1, 3h));
}

TEST(parse_backup_name_test, database_may_contain_dashes) {
  const auto parsed = parse_backup_name("my-app-20260101-030000.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->database, "my-app");
  EXPECT_EQ(parsed->taken, at(2026y / 1 / 1, 3h));
}

TEST(parse_backup_name_test, database_may_contain_dots_and_underscores) {
  const auto parsed = parse_backup_name("shop_v2.main-19991231-235959.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->database, "shop_v2.main");
  EXPECT_EQ(parsed->taken, at(1999y / 12 / 31, 23h + 59min + 59s));
}

TEST(parse_backup_name_test, database_that_looks_like_a_timestamp) {
  const auto parsed = parse_backup_name("20250101-20260102-010203.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->database, "20250101");
  EXPECT_EQ(parsed->taken, at(2026y / 1 / 2, 1h + 2min + 3s));
}

TEST(parse_backup_name_test, accepts_february_29_in_a_leap_year) {
  const auto parsed = parse_backup_name("db-20240229-120000.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->taken, at(2024y / 2 / 29, 12h));
  EXPECT_TRUE(parse_backup_name("db-20000229-000000.dump").has_value());  // 400-year rule
}

TEST(parse_backup_name_test, accepts_the_extremes_of_each_field) {
  const auto parsed = parse_backup_name("d-20261231-235959.dump");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->taken, at(2026y / 12 / 31, 23h + 59min + 59s));
  const auto midnight = parse_backup_name("d-20260101-000000.dump");
  ASSERT_TRUE(midnight.has_value());
  EXPECT_EQ(midnight->taken, at(2026y / 1 / 1, 0s));
}

TEST(parse_backup_name_test, rejects_invalid_dates_and_times) {
  for (std::string_view name : {
           "db-20260230-030000.dump",  // February 30
           "db-20230229-030000.dump",  // not a leap year
           "db-19000229-030000.dump",  // century, not a leap year
           "db-20260431-030000.dump",  // April has 30 days
           "db-20260001-030000.dump",  // month 0
           "db-20261301-030000.dump",  // month 13
           "db-20260100-030000.dump",  // day 0
           "db-20260132-030000.dump",  // day 32
           "db-20260101-240000.dump",  // hour 24
           "db-20260101-236000.dump",  // minute 60
           "db-20260101-235960.dump",  // second 60 (no leap seconds)
           "db-99990101-000000.dump",  // beyond what system_clock can hold
       }) {
    EXPECT_EQ(parse_backup_name(name), std::nullopt) << name;
  }
}

TEST(parse_backup_name_test, rejects_wrong_shapes) {
  for (std::string_view name : {
           "",
           ".dump",
           "db-20260101-030000",          // no extension
           "db-20260101-030000.sql",      // wrong extension
           "db-20260101-030000.dump.gz",  // extension not last
           "db-20260101-030000.DUMP",     // extension is case-sensitive
           "db-20260101-030000.dump.sha256",
           "db-20260101.dump",          // no time
           "db-030000.dump",            // no date
           "20260101-030000.dump",      // no database
           "-20260101-030000.dump",     // empty database
           "db20260101-030000.dump",    // no dash before the date
           "db-20260101030000.dump",    // no dash before the time
           "db-2026011-030000.dump",    // short date
           "db-2026010-1030000.dump",   // dash in the wrong place
           "db-20260101-03000.dump",    // short time
           "db-20260101-0300000.dump",  // long time
           "db-2026o101-030000.dump",   // letter in the date
           "db-20260101-03000x.dump",   // letter in the time
           "db-+2026010-030000.dump",   // sign
           "db-20260101--30000.dump",   // sign in the time
       }) {
    EXPECT_EQ(parse_backup_name(name), std::nullopt) << '"' << name << '"';
  }
}

TEST(parse_backup_name_test, rejects_unsafe_names) {
  for (std::string_view name : {
           "../db-20260101-030000.dump",
           "a/db-20260101-030000.dump",
           "db..x-20260101-030000.dump",
           ".db-20260101-030000.dump",
           "my db-20260101-030000.dump",
           "db\n-20260101-030000.dump",
           "db%2f-20260101-030000.dump",
           "d\xc3\xa9-20260101-030000.dump",
       }) {
    EXPECT_EQ(parse_backup_name(name), std::nullopt) << name;
  }
  EXPECT_EQ(parse_backup_name(std::string_view("db\0x-20260101-030000.dump", 25)), std::nullopt);
  EXPECT_EQ(parse_backup_name(std::string(240, 'a') + "-20260101-030000.dump"), std::nullopt)
      << "longer than 255 characters";
}

TEST(format_backup_name_test, pads_every_field) {
  EXPECT_EQ(format_backup_name("app", at(2026y / 1 / 2, 3h + 4min + 5s)),
            "app-20260102-030405.dump");
  EXPECT_EQ(format_backup_name("my-app", at(2025y / 12 / 31, 23h + 59min + 59s)),
            "my-app-20251231-235959.dump");
  EXPECT_EQ(format_backup_name("x", at(1970y / 1 / 1, 0s)), "x-19700101-000000.dump");
}

TEST(format_backup_name_test, truncates_to_whole_seconds) {
  const auto taken = at(2026y / 3 / 1, 12h) + 999ms + 999us;
  EXPECT_EQ(format_backup_name("db", taken), "db-20260301-120000.dump");
  // Just before midnight must not round up into the next day.
  const auto late = at(2026y / 2 / 28, 23h + 59min + 59s) + 999999999ns;
  EXPECT_EQ(format_backup_name("db", late), "db-20260228-235959.dump");
}

TEST(format_backup_name_test, round_trips_through_parse) {
  for (const auto taken : {at(2026y / 1 / 1, 3h), at(2024y / 2 / 29, 23h + 59min + 59s),
                           at(1999y / 12 / 31, 0s), at(2100y / 6 / 15, 12h + 30min + 1s)}) {
    for (std::string_view database : {"app", "my-app", "a.b_c-1"}) {
      const std::string name = format_backup_name(database, taken);
      const auto parsed = parse_backup_name(name);
      ASSERT_TRUE(parsed.has_value()) << name;
      EXPECT_EQ(parsed->database, database) << name;
      EXPECT_EQ(parsed->taken, taken) << name;
      EXPECT_EQ(format_backup_name(parsed->database, parsed->taken), name);
    }
  }
}

TEST(backup_kind_test, the_extension_makes_the_kind) {
  const std::pair<const char*, backup_kind> cases[] = {
      {"app-20260101-030000.dump", backup_kind::dump},
      {"app-20260101-030000.dump.zst.age", backup_kind::dump},
      {"conf-20260101-030000.tar.zst", backup_kind::archive},
      {"globals-20260101-030000.sql", backup_kind::globals},
      {"globals-20260101-030000.sql.zst", backup_kind::globals},
      {"globals-20260101-030000.sql.age", backup_kind::globals},
      {"globals-20260101-030000.sql.zst.age", backup_kind::globals},
      // A database called globals is a database.
      {"globals-20260101-030000.dump", backup_kind::dump},
      {"globals-20260101-030000.dump.age", backup_kind::dump},
      {"pgdata-20260101-030000.base.tar", backup_kind::basebackup},
      {"pgdata-20260101-030000.base.tar.zst", backup_kind::basebackup},
      {"pgdata-20260101-030000.base.tar.age", backup_kind::basebackup},
      {"pgdata-20260101-030000.base.tar.zst.age", backup_kind::basebackup},
      // An archive called pgdata is an archive.
      {"pgdata-20260101-030000.tar.zst", backup_kind::archive},
  };
  for (const auto& [name, kind] : cases) {
    const auto parsed = parse_backup_name(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(parsed->kind, kind) << name;
    if (kind == backup_kind::globals) {
      EXPECT_EQ(parsed->database, globals_name) << name;
    }
  }
  EXPECT_EQ(parse_backup_name("globals-20260101-030000.sql.zst")->database, "globals");
  EXPECT_EQ(parse_backup_name("globals-20260101-030000.sql.zst")->extension, ".sql.zst");
  EXPECT_EQ(backup_stem("globals-20260101-030000.sql.zst.age"), "globals-20260101-030000");
  // ".base.tar" is matched before ".tar".
  EXPECT_EQ(parse_backup_name("pgdata-20260101-030000.base.tar.zst")->database, "pgdata");
  EXPECT_EQ(parse_backup_name("pgdata-20260101-030000.base.tar.zst")->extension, ".base.tar.zst");
  EXPECT_EQ(backup_stem("pgdata-20260101-030000.base.tar.zst.age"), "pgdata-20260101-030000");
}

TEST(backup_kind_test, only_pgdata_is_a_base_backup) {
  EXPECT_FALSE(parse_backup_name("app-20260101-030000.base.tar").has_value());
  EXPECT_FALSE(parse_backup_name("my-pgdata-20260101-030000.base.tar").has_value());
  EXPECT_FALSE(parse_backup_name("pgdata-20260101-030000.base.tar.gz").has_value());
  EXPECT_FALSE(parse_backup_name("pgdata-20260101-030000.zst.base.tar").has_value());
  EXPECT_FALSE(parse_backup_name("pgdata-20260101-030000.base").has_value());
  // An archive whose name ends in ".base" keeps its stamp before the extension.
  EXPECT_FALSE(parse_backup_name("pgdata.base-20260101-030000.base.tar").has_value());
}

TEST(backup_kind_test, only_the_globals_are_sql) {
  EXPECT_FALSE(parse_backup_name("app-20260101-030000.sql").has_value());
  EXPECT_FALSE(parse_backup_name("my-globals-20260101-030000.sql").has_value());
  EXPECT_FALSE(parse_backup_name("globals-20260101-030000.sql.gz").has_value());
  EXPECT_FALSE(parse_backup_name("globals-20260101-030000.zst.sql").has_value());
}

TEST(backup_kind_test, names_round_trip) {
  for (const auto kind : backup_kinds) {
    EXPECT_EQ(parse_backup_kind(to_string(kind)), kind);
    EXPECT_EQ(kind_of_extension(base_extension(kind)), kind);
  }
  EXPECT_FALSE(parse_backup_kind("Globals").has_value());
  EXPECT_FALSE(parse_backup_kind("").has_value());
  const auto name = format_backup_name(globals_name, at(2026y / 3 / 1, 12h), ".sql.zst.age");
  EXPECT_EQ(name, "globals-20260301-120000.sql.zst.age");
  EXPECT_EQ(parse_backup_name(name)->kind, backup_kind::globals);
  EXPECT_EQ(to_string(backup_kind::basebackup), "basebackup");
  const auto base = format_backup_name(basebackup_name, at(2026y / 3 / 1, 12h), ".base.tar.zst");
  EXPECT_EQ(base, "pgdata-20260301-120000.base.tar.zst");
  EXPECT_EQ(parse_backup_name(base)->kind, backup_kind::basebackup);
}

TEST(backup_kind_test, the_extensions_are_every_kind_in_every_stored_format) {
  // Made from the codecs' table (io/stored_format.hpp): the twelve names there always were, and
  // the base backups' four.
  const std::vector<std::string_view> expected = {
      ".dump",     ".dump.zst",     ".dump.age",     ".dump.zst.age",    ".tar",     ".tar.zst",
      ".tar.age",  ".tar.zst.age",  ".sql",          ".sql.zst",         ".sql.age", ".sql.zst.age",
      ".base.tar", ".base.tar.zst", ".base.tar.age", ".base.tar.zst.age"};
  EXPECT_EQ(std::vector<std::string_view>(backup_extensions.begin(), backup_extensions.end()),
            expected);
}

TEST(backup_kind_test, the_upload_forms_are_named_from_the_codecs) {
  EXPECT_EQ(backup_name_forms(),
            "<database>-<YYYYMMDD>-<HHMMSS>.dump[.zst][.age] or .tar[.zst][.age]");
}

}  // namespace
}  // namespace pgship

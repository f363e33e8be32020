#include "pg_tools.hpp"

#include <gtest/gtest.h>

#include "pg_connection.hpp"
#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

TEST(ParseToolVersion, ReadsDebianAndPlainBuilds) {
  const auto debian = parse_tool_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n");
  ASSERT_TRUE(debian);
  EXPECT_EQ(debian->first, 15);
  EXPECT_EQ(debian->second, "15.18");
  const auto plain = parse_tool_version("pg_restore (PostgreSQL) 17.2\n");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->first, 17);
  const auto old = parse_tool_version("pg_dump (PostgreSQL) 9.6.24\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->first, 9);
  EXPECT_EQ(old->second, "9.6.24");
  EXPECT_FALSE(parse_tool_version("bash: pg_dump: command not found"));
  EXPECT_FALSE(parse_tool_version("pg_dump (PostgreSQL) devel"));
}

TEST(PgDumpCandidates, ServerMajorFirstThenNewerOnesNewestFirst) {
  test::temp_dir root;
  for (const char* major : {"13", "15", "16", "17", "not-a-version"})
    test::write_file(root / major / "bin" / "pg_dump", "#!/bin/sh\n");
  const auto c = pg_dump_candidates(std::nullopt, 15, root.path());
  ASSERT_GE(c.size(), 3u);
  EXPECT_EQ(c[0], root / "15" / "bin" / "pg_dump");
  EXPECT_EQ(c[1], root / "17" / "bin" / "pg_dump");
  EXPECT_EQ(c[2], root / "16" / "bin" / "pg_dump");
  for (const auto& p : c)
    EXPECT_NE(p, root / "13" / "bin" / "pg_dump") << "older than the server";
}

TEST(PgDumpCandidates, AConfiguredPathIsTheOnlyCandidate) {
  const auto c = pg_dump_candidates(std::filesystem::path("/opt/pg/bin/pg_dump"), 15);
  EXPECT_EQ(c, std::vector<std::filesystem::path>{"/opt/pg/bin/pg_dump"});
}

TEST(VersionText, NewAndOldNumbering) {
  EXPECT_EQ(version_text(150004), "15.4");
  EXPECT_EQ(version_text(90624), "9.6.24");
  EXPECT_EQ(major_version(150004), 15);
  EXPECT_EQ(major_version(90624), 9);
}

}  // namespace
}  // namespace pgship::agent

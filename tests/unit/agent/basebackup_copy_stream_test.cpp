#include <string>

#include <gtest/gtest.h>

#include <pgship/common/io/sink.hpp>
#include <pgship/common/sha256.hpp>

#include "pipeline/basebackup_copy_stream.hpp"
#include "pipeline/basebackup_tar_tap.hpp"

namespace pgship::agent {
namespace {

std::string member(const std::string& name, const std::string& data) {
  std::string m = tar_file_header(name, data.size(), 0);
  m += data;
  m.append((512 - data.size() % 512) % 512, '\0');
  return m;
}

// What PostgreSQL 15's walsender sends as the base archive: members, then end-of-archive.
std::string server_archive() {
  std::string tar = member("backup_label",
                           "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                           "START TIME: 2026-03-01 12:00:00 UTC\n"
                           "START TIMELINE: 1\n");
  tar += member("base/1/1259", std::string(20000, 'x'));
  tar += member("global/pg_control", std::string(8192, '\x01'));
  tar.append(1024, '\0');
  return tar;
}

const std::string manifest =
    "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n],\n\"WAL-Ranges\": [\n"
    "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000138\" }\n],\n"
    "\"Manifest-Checksum\": \"abc\"}\n";

std::string message(char type, const std::string& body) {
  return std::string(1, type) + body;
}

// The archive in uneven pieces (one ends inside the end-of-archive blocks, one is a byte).
void send_archive(basebackup_copy_stream& s, const std::string& archive) {
  ASSERT_FALSE(s.take(message('n', std::string("base.tar\0\0", 10))));
  const std::size_t cuts[] = {1, 700, 20000, archive.size() - 600, archive.size() - 1};
  std::size_t at = 0;
  for (const auto cut : cuts) {
    ASSERT_FALSE(s.take(message('d', archive.substr(at, cut - at))));
    ASSERT_FALSE(s.take(message('p', std::string(8, '\0'))));
    at = cut;
  }
  ASSERT_FALSE(s.take(message('d', archive.substr(at))));
}

TEST(basebackup_copy_stream_test, the_manifest_becomes_the_last_member_before_end_of_archive) {
  const auto archive = server_archive();
  io::buffer_sink out;
  basebackup_tar_tap tap(out);
  basebackup_copy_stream s(tap);
  send_archive(s, archive);
  ASSERT_FALSE(s.take(message('m', "")));
  ASSERT_FALSE(s.take(message('d', manifest.substr(0, 50))));
  ASSERT_FALSE(s.take(message('d', manifest.substr(50))));
  ASSERT_FALSE(s.finish()) << s.problem();
  ASSERT_FALSE(tap.finish());
  EXPECT_EQ(s.archive_name(), "base.tar");

  const auto tar = out.text();
  const std::size_t padded = (manifest.size() + 511) / 512 * 512;
  ASSERT_EQ(tar.size(), archive.size() - 1024 + 512 + padded + 1024);
  EXPECT_EQ(tar.substr(0, archive.size() - 1024), archive.substr(0, archive.size() - 1024));
  EXPECT_EQ(tar.substr(tar.size() - 1024), std::string(1024, '\0'));
  EXPECT_TRUE(tap.problem().empty()) << tap.problem();
  const auto& p = tap.positions();
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.members, 4u);
  EXPECT_EQ(p.stop, wal::lsn{0x2000138});
  sha256 h;
  h.update(manifest);
  EXPECT_EQ(p.manifest_sha256, to_hex(h.finish()));
}

TEST(basebackup_copy_stream_test, a_stream_postgresql_does_not_send_is_refused) {
  io::buffer_sink out;
  {
    basebackup_copy_stream s(out);
    EXPECT_TRUE(s.take(message('d', "x")));
    EXPECT_NE(s.problem().find("before its archive"), std::string::npos) << s.problem();
  }
  {
    basebackup_copy_stream s(out);
    send_archive(s, server_archive());
    EXPECT_TRUE(s.take(message('n', std::string("16384.tar\0/srv/ts\0", 18))));
    EXPECT_NE(s.problem().find("tablespaces"), std::string::npos) << s.problem();
  }
  {
    basebackup_copy_stream s(out);
    send_archive(s, server_archive());
    EXPECT_TRUE(s.finish());
    EXPECT_NE(s.problem().find("no backup manifest"), std::string::npos) << s.problem();
  }
  {
    // An archive cut short: its last bytes are not the zero blocks.
    auto archive = server_archive();
    archive.resize(archive.size() - 1024);
    basebackup_copy_stream s(out);
    send_archive(s, archive);
    ASSERT_FALSE(s.take(message('m', "")));
    EXPECT_TRUE(s.finish());
    EXPECT_NE(s.problem().find("end-of-archive"), std::string::npos) << s.problem();
  }
  {
    basebackup_copy_stream s(out);
    EXPECT_TRUE(s.take(message('z', "")));
    EXPECT_NE(s.problem().find("unknown type"), std::string::npos) << s.problem();
  }
}

}  // namespace
}  // namespace pgship::agent

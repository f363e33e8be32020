#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/io/sink.hpp>
#include <pgship/common/sha256.hpp>

#include "pipeline/basebackup_tar_tap.hpp"
#include "pipeline/basebackup_writer.hpp"
#include "temp_dir.hpp"

namespace pgship::agent {
namespace {

// One ustar member: a header with a valid checksum, the data, zeros to the next block.
void add_member(std::string& tar, const std::string& name, const std::string& data, char type = '0',
                const std::string& link = "") {
  char h[512] = {};
  std::snprintf(h, 100, "%s", name.c_str());
  std::snprintf(h + 100, 8, "%07o", 0600);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011lo", static_cast<unsigned long>(data.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = type;
  std::snprintf(h + 157, 100, "%s", link.c_str());
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : h)
    sum += static_cast<unsigned char>(c);
  std::snprintf(h + 148, 8, "%06o", sum);
  tar.append(h, 512);
  tar += data;
  tar.append((512 - data.size() % 512) % 512, '\0');
}

const std::string label =
    "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
    "CHECKPOINT LOCATION: 0/2000060\n"
    "BACKUP METHOD: streamed\n"
    "BACKUP FROM: primary\n"
    "START TIME: 2026-03-01 12:00:00 UTC\n"
    "LABEL: pg_basebackup base backup\n"
    "START TIMELINE: 1\n";

std::string manifest_text(std::size_t filler) {
  std::string m = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n";
  for (std::size_t i = 0; i < filler; ++i) {
    m += "{ \"Path\": \"base/1/" + std::to_string(i) +
         "\", \"Size\": 8192, \"Last-Modified\": \"2026-03-01 12:00:00 GMT\", "
         "\"Checksum-Algorithm\": \"SHA256\", \"Checksum\": \"00\" },\n";
  }
  m += "],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": "
       "\"0/2000138\" }\n],\n\"Manifest-Checksum\": \"abc\"}\n";
  return m;
}

std::string sample_tar(const std::string& manifest) {
  std::string tar;
  add_member(tar, "backup_label", label);
  add_member(tar, "base/1/1259", std::string(20000, 'x'));
  add_member(tar, "global/pg_control", std::string(8192, '\x01'));
  add_member(tar, "pg_wal/", "", '5');
  add_member(tar, "backup_manifest", manifest);
  tar.append(1024, '\0');
  return tar;
}

// Feeds `tar` in pieces of growing, uneven sizes, so headers and members split anywhere.
void feed(io::sink& s, const std::string& tar) {
  std::size_t at = 0;
  for (std::size_t piece = 1; at < tar.size(); piece = piece * 3 + 1) {
    const auto n = std::min(piece % 70000 + 1, tar.size() - at);
    ASSERT_FALSE(s.write(std::span<const char>(tar.data() + at, n)));
    at += n;
  }
  ASSERT_FALSE(s.finish());
}

TEST(basebackup_tar_tap_test, reads_the_label_and_the_manifest_and_passes_every_byte) {
  const auto manifest = manifest_text(2000);  // larger than the tail the tap keeps
  const auto tar = sample_tar(manifest);
  io::buffer_sink out;
  basebackup_tar_tap tap(out);
  feed(tap, tar);
  EXPECT_EQ(out.text(), tar);
  EXPECT_TRUE(tap.problem().empty()) << tap.problem();
  const auto& p = tap.positions();
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.members, 4u);
  EXPECT_EQ(p.label_start, wal::lsn{0x2000028});
  EXPECT_EQ(p.label_timeline, 1u);
  EXPECT_EQ(p.start_time, "2026-03-01 12:00:00 UTC");
  EXPECT_EQ(p.start, wal::lsn{0x2000028});
  EXPECT_EQ(p.stop, wal::lsn{0x2000138});
  EXPECT_EQ(p.timeline, 1u);
  sha256 h;
  h.update(manifest);
  EXPECT_EQ(p.manifest_sha256, to_hex(h.finish()));
  EXPECT_EQ(p.manifest_size, manifest.size());
}

TEST(basebackup_tar_tap_test, a_cut_tar_or_one_without_a_manifest_is_a_problem) {
  const auto tar = sample_tar(manifest_text(3));
  {
    io::buffer_sink out;
    basebackup_tar_tap tap(out);
    feed(tap, tar.substr(0, tar.size() - 2000));
    EXPECT_FALSE(tap.problem().empty());
  }
  {
    std::string no_manifest;
    add_member(no_manifest, "backup_label", label);
    no_manifest.append(1024, '\0');
    io::buffer_sink out;
    basebackup_tar_tap tap(out);
    feed(tap, no_manifest);
    EXPECT_NE(tap.problem().find("backup_manifest"), std::string::npos) << tap.problem();
  }
}

TEST(basebackup_tar_tap_test, takes_the_last_wal_range_as_the_stop) {
  base_backup_positions p;
  ASSERT_TRUE(parse_manifest_wal_ranges(
      R"("WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/5000028", "End-LSN": "0/6000000" },
{ "Timeline": 2, "Start-LSN": "0/6000000", "End-LSN": "0/6000100" }
],)",
      p));
  EXPECT_EQ(p.start, wal::lsn{0x5000028});
  EXPECT_EQ(p.stop, wal::lsn{0x6000100});
  EXPECT_EQ(p.timeline, 2u);
  base_backup_positions none;
  EXPECT_FALSE(parse_manifest_wal_ranges(R"({"Files": []})", none));
  EXPECT_FALSE(
      parse_manifest_wal_ranges(R"("WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "x" }])", none));
}

// basebackup_writer: the files written, each checked against a manifest made as PostgreSQL
// makes one (SHA-256 per file, the manifest's own checksum over everything before its line).
using files = std::vector<std::pair<std::string, std::string>>;

std::string manifest_for(const files& listed) {
  std::string m = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n";
  for (std::size_t i = 0; i < listed.size(); ++i) {
    sha256 h;
    h.update(listed[i].second);
    m += std::string(i == 0 ? "" : ",\n") + "{ \"Path\": \"" + listed[i].first +
         "\", \"Size\": " + std::to_string(listed[i].second.size()) +
         ", \"Last-Modified\": \"2026-03-01 12:00:00 GMT\", \"Checksum-Algorithm\": \"SHA256\", "
         "\"Checksum\": \"" +
         to_hex(h.finish()) + "\" }";
  }
  m += "\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": "
       "\"0/2000138\" }\n],\n";
  sha256 whole;
  whole.update(m);
  return m + "\"Manifest-Checksum\": \"" + to_hex(whole.finish()) + "\"}\n";
}

const files cluster = {{"PG_VERSION", "15\n"},
                       {"backup_label", label},
                       {"base/1/1259", std::string(20000, 'r')},
                       {"global/pg_control", std::string(8192, 'c')}};

// The tar of `in` (directories first) and a manifest of `listed`.
std::string tar_of(const files& in, const files& listed) {
  std::string tar;
  add_member(tar, "base/", "", '5');
  add_member(tar, "base/1/", "", '5');
  add_member(tar, "global/", "", '5');
  for (const auto& [name, data] : in)
    add_member(tar, name, data);
  add_member(tar, "backup_manifest", manifest_for(listed));
  tar.append(1024, '\0');
  return tar;
}

stage_error unpack(const std::filesystem::path& dir, const std::string& tar, bool& external) {
  basebackup_writer writer(dir);
  // In uneven pieces, as blocks arrive.
  for (std::size_t at = 0; at < tar.size(); at += 777) {
    if (writer.write(std::span(tar).subspan(at, std::min<std::size_t>(777, tar.size() - at)))) {
      return fail(errc::restore_failed, writer.problem());
    }
  }
  return writer.finish(external);
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(basebackup_writer_test, writes_every_file_and_finds_each_as_its_manifest_says) {
  test::temp_dir dir;
  bool external = true;
  const auto e = unpack(dir.path(), tar_of(cluster, cluster), external);
  ASSERT_FALSE(e) << e.message;
  EXPECT_FALSE(external);
  EXPECT_EQ(read_all(dir.path() / "base/1/1259"), std::string(20000, 'r'));
  EXPECT_EQ(read_all(dir.path() / "PG_VERSION"), "15\n");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "backup_manifest"));
}

TEST(basebackup_writer_test, a_changed_missing_or_extra_file_is_named) {
  auto changed = cluster;
  changed[2].second[100] = 'X';
  auto extra = cluster;
  extra.emplace_back("base/1/9999", "stray");
  auto missing = cluster;
  missing.pop_back();
  for (const auto& [in, says] :
       {std::pair{changed, "base/1/1259 does not match its SHA-256"},
        std::pair{extra, "base/1/9999 is in the backup but not in its manifest"},
        std::pair{missing, "global/pg_control is in the manifest but not in the backup"}}) {
    SCOPED_TRACE(says);
    test::temp_dir dir;
    bool external = false;
    const auto e = unpack(dir.path(), tar_of(in, cluster), external);
    EXPECT_EQ(e.code, make_error_code(errc::hash_mismatch)) << e.message;
    EXPECT_NE(e.message.find(says), std::string::npos) << e.message;
  }
}

TEST(basebackup_writer_test, a_manifest_unlike_its_checksum_a_cut_tar_or_a_name_outside_fail) {
  {
    test::temp_dir dir;
    auto tar = tar_of(cluster, cluster);
    const auto at = tar.find("\"Checksum-Algorithm\": \"SHA256\"");
    tar[at + 1] = 'c';  // "checksum-Algorithm": the manifest no longer matches its checksum
    bool external = false;
    const auto e = unpack(dir.path(), tar, external);
    EXPECT_NE(e.message.find("does not match its own checksum"), std::string::npos) << e.message;
  }
  {
    test::temp_dir dir;
    auto tar = tar_of(cluster, cluster);
    tar.resize(tar.size() - 1024);
    bool external = false;
    const auto e = unpack(dir.path(), tar, external);
    EXPECT_NE(e.message.find("end-of-archive"), std::string::npos) << e.message;
  }
  for (const std::string name : {"../escape", "/etc/escape", "base/../../escape"}) {
    SCOPED_TRACE(name);
    test::temp_dir dir;
    const auto inside = dir.path() / "data";
    std::filesystem::create_directories(inside);
    std::string tar;
    add_member(tar, name, "x");
    bool external = false;
    const auto e = unpack(inside, tar, external);
    EXPECT_TRUE(e) << "refused";
    EXPECT_NE(e.message.find(name), std::string::npos) << e.message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "escape"));
  }
  // Links: a tablespace's only (pg_tblspc/<oid>), and nothing written through one.
  for (const auto& [link, member, says] :
       {std::tuple{"base/evil", "", "outside pg_tblspc/"},
        std::tuple{"pg_tblspc/16384", "pg_tblspc/16384/escape", "under the link"}}) {
    SCOPED_TRACE(link);
    test::temp_dir dir;
    const auto inside = dir.path() / "data";
    std::filesystem::create_directories(inside);
    std::string tar;
    add_member(tar, link, "", '2', dir.path().string());
    if (!std::string(member).empty()) add_member(tar, member, "x");
    bool external = false;
    const auto e = unpack(inside, tar, external);
    EXPECT_TRUE(e) << "refused";
    EXPECT_NE(e.message.find(says), std::string::npos) << e.message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "escape"));
  }
}

}  // namespace
}  // namespace pgship::agent

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/fs.hpp>

#include "temp_dir.hpp"

namespace pgship::fs {
namespace {

using pgship::test::read_file;
using pgship::test::temp_dir;
using pgship::test::write_file;

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- is_safe_name -----------------------------------------------------------------------------

TEST(is_safe_name_test, accepts_ordinary_names) {
  for (std::string_view name : {"mydb-20260101-030000.dump", "a_b.c", "a", "A", "0", "x.sha256",
                                "UPPER-lower_123.tar.gz", "a.b", "name-", "name.", "_x"}) {
    EXPECT_TRUE(is_safe_name(name)) << name;
  }
}

TEST(is_safe_name_test, accepts_up_to_255_characters) {
  EXPECT_TRUE(is_safe_name(std::string(255, 'a')));
  EXPECT_FALSE(is_safe_name(std::string(256, 'a')));
}

TEST(is_safe_name_test, rejects_dangerous_names) {
  for (std::string_view name :
       {"",     ".",    "..",          "../x",  "x/..", "a/b",  "/abs", ".hidden", ".incoming",
        "a..b", "x..",  "x y",         " x",    "x ",   "a\\b", "a:b",  "a*b",     "a?b",
        "a\tb", "a\nb", "caf\xc3\xa9", "a%2Fb", "~x",   "a$b",  "a;b",  "a'b",     "a\"b"}) {
    EXPECT_FALSE(is_safe_name(name)) << '"' << name << '"';
  }
}

TEST(is_safe_name_test, rejects_embedded_nul) {
  EXPECT_FALSE(is_safe_name(std::string_view("a\0b", 3)));
  EXPECT_FALSE(is_safe_name(std::string_view("\0", 1)));
  EXPECT_FALSE(is_safe_name(std::string_view("ab\0", 3)));
}

// --- write_file_atomically --------------------------------------------------------------------

TEST(write_file_atomically_test, creates_the_file) {
  temp_dir dir;
  const auto path = dir / "state.json";
  EXPECT_FALSE(write_file_atomically(path, "{\"a\":1}\n"));
  EXPECT_EQ(read_file(path), "{\"a\":1}\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"state.json"});
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::owner_read,
            std::filesystem::perms::owner_read);
}

TEST(write_file_atomically_test, overwrites_existing_content) {
  temp_dir dir;
  const auto path = dir / "state.json";
  write_file(path, "old content that is longer than the new one");
  EXPECT_FALSE(write_file_atomically(path, "new"));
  EXPECT_EQ(read_file(path), "new");
  EXPECT_FALSE(write_file_atomically(path, ""));
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(write_file_atomically_test, binary_and_large_content) {
  temp_dir dir;
  std::string content(3 * 1024 * 1024 + 7, '\0');
  for (std::size_t i = 0; i < content.size(); ++i)
    content[i] = static_cast<char>(i * 31 % 251);
  EXPECT_FALSE(write_file_atomically(dir / "blob", content));
  EXPECT_EQ(read_file(dir / "blob"), content);
}

TEST(write_file_atomically_test, leaves_no_temporary_files) {
  temp_dir dir;
  write_file(dir / "other.txt", "x");
  for (int i = 0; i < 20; ++i) {
    ASSERT_FALSE(write_file_atomically(dir / "state", "round " + std::to_string(i)));
  }
  EXPECT_EQ(read_file(dir / "state"), "round 19");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"other.txt", "state"}));
}

TEST(write_file_atomically_test, fails_in_a_missing_directory) {
  temp_dir dir;
  const std::error_code ec = write_file_atomically(dir / "missing" / "state", "x");
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(write_file_atomically_test, failure_to_replace_cleans_up_the_temporary_file) {
  temp_dir dir;
  // The target is a non-empty directory: rename(2) cannot replace it.
  write_file(dir / "target" / "inside", "keep");
  const std::error_code ec = write_file_atomically(dir / "target", "x");
  EXPECT_TRUE(ec);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"target"});
  EXPECT_EQ(read_file(dir / "target" / "inside"), "keep");
}

// --- fsync_directory --------------------------------------------------------------------------

TEST(fsync_directory_test, succeeds_on_a_directory) {
  temp_dir dir;
  EXPECT_FALSE(fsync_directory(dir.path()));
}

TEST(fsync_directory_test, fails_on_a_missing_path) {
  temp_dir dir;
  EXPECT_EQ(fsync_directory(dir / "missing"), std::errc::no_such_file_or_directory);
}

TEST(fsync_directory_test, fails_on_a_regular_file) {
  temp_dir dir;
  write_file(dir / "file", "x");
  EXPECT_EQ(fsync_directory(dir / "file"), std::errc::not_a_directory);
}

}  // namespace
}  // namespace pgship::fs

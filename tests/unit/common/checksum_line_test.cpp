#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <pgship/common/checksum_line.hpp>
#include <pgship/common/sha256.hpp>

#include "temp_dir.hpp"

namespace pgship {
namespace {

using pgship::test::temp_dir;
using pgship::test::write_file;

constexpr std::string_view abc_hex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

const sha256_digest& abc_digest() {
  static const sha256_digest d = sha256_of("abc");
  return d;
}

std::string with_hex(std::string_view before, std::string_view after) {
  return std::string(before) + std::string(abc_hex) + std::string(after);
}

// --- format -----------------------------------------------------------------------------------

TEST(format_checksum_line_test, is_hex_two_spaces_name_newline) {
  EXPECT_EQ(format_checksum_line(abc_digest(), "mydb-20260101-030000.dump"),
            with_hex("", "  mydb-20260101-030000.dump\n"));
}

TEST(format_checksum_line_test, parses_back) {
  const auto entry = parse_checksum_line(format_checksum_line(abc_digest(), "a_b.c"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->digest, abc_digest());
  EXPECT_EQ(entry->file_name, "a_b.c");
}

// --- parse_checksum_line ----------------------------------------------------------------------

TEST(parse_checksum_line_test, gnu_text_mode) {
  const auto entry = parse_checksum_line(with_hex("", "  mydb.dump"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->digest, abc_digest());
  EXPECT_EQ(entry->file_name, "mydb.dump");
}

TEST(parse_checksum_line_test, gnu_binary_mode) {
  const auto entry = parse_checksum_line(with_hex("", " *mydb.dump\n"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->digest, abc_digest());
  EXPECT_EQ(entry->file_name, "mydb.dump");
}

TEST(parse_checksum_line_test, bsd_tag_form) {
  const auto entry = parse_checksum_line(with_hex("SHA256 (mydb.dump) = ", "\n"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->digest, abc_digest());
  EXPECT_EQ(entry->file_name, "mydb.dump");
}

TEST(parse_checksum_line_test, bsd_name_with_parentheses) {
  const auto entry = parse_checksum_line(with_hex("SHA256 (a (1).dump) = ", ""));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->file_name, "a (1).dump");
}

TEST(parse_checksum_line_test, trailing_newline_and_crlf) {
  for (std::string_view ending : {"", "\n", "\r\n"}) {
    const auto text = parse_checksum_line(with_hex("", "  x.dump") + std::string(ending));
    ASSERT_TRUE(text.has_value()) << int(ending.size());
    EXPECT_EQ(text->file_name, "x.dump");
    const auto binary = parse_checksum_line(with_hex("", " *x.dump") + std::string(ending));
    ASSERT_TRUE(binary.has_value());
    EXPECT_EQ(binary->file_name, "x.dump");
    const auto bsd = parse_checksum_line(with_hex("SHA256 (x.dump) = ", ending));
    ASSERT_TRUE(bsd.has_value());
    EXPECT_EQ(bsd->file_name, "x.dump");
    EXPECT_EQ(bsd->digest, abc_digest());
  }
}

TEST(parse_checksum_line_test, uppercase_hex_is_accepted) {
  std::string hex(abc_hex);
  for (auto& c : hex)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto entry = parse_checksum_line(hex + "  x.dump\n");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->digest, abc_digest());
}

TEST(parse_checksum_line_test, name_keeps_inner_spaces) {
  const auto entry = parse_checksum_line(with_hex("", "  my file.dump"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->file_name, "my file.dump");
}

TEST(parse_checksum_line_test, rejects_malformed_lines) {
  const std::string hex(abc_hex);
  for (const std::string& line : {
           std::string(),
           std::string("\n"),
           hex.substr(0, 63) + "  x.dump",    // short hex
           hex.substr(0, 63) + "   x.dump",   // short hex, padded to the same length
           hex + "0  x.dump",                 // long hex
           hex + " x.dump",                   // one space
           hex + "\tx.dump",                  // tab instead of spaces
           hex + "  ",                        // empty name
           hex + " *",                        // empty name, binary
           hex + "  \n",                      // empty name with newline
           hex,                               // no name at all
           "g" + hex.substr(1) + "  x.dump",  // not hex
           "SHA256 () = " + hex,              // BSD, empty name
           "SHA256 (x.dump) = " + hex.substr(0, 63),
           "SHA256 (x.dump) = " + hex + "0",
           "SHA256 (x.dump)= " + hex,
           "SHA256 (x.dump) =" + hex,
           "MD5 (x.dump) = " + hex,
           "SHA1 (x.dump) = " + hex,
           "sha256 (x.dump) = " + hex,
       }) {
    EXPECT_EQ(parse_checksum_line(line), std::nullopt) << '"' << line << '"';
  }
}

// --- parse_checksum_text ----------------------------------------------------------------------

TEST(parse_checksum_text_test, several_lines_with_blank_lines) {
  const std::string text = "\n" + with_hex("", "  a.dump\n") + "\n\r\n" +
                           with_hex("SHA256 (b.dump) = ", "\r\n") + "\n" +
                           format_checksum_line(sha256_of(""), "c.dump");
  const auto entries = parse_checksum_text(text);
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].file_name, "a.dump");
  EXPECT_EQ((*entries)[0].digest, abc_digest());
  EXPECT_EQ((*entries)[1].file_name, "b.dump");
  EXPECT_EQ((*entries)[1].digest, abc_digest());
  EXPECT_EQ((*entries)[2].file_name, "c.dump");
  EXPECT_EQ((*entries)[2].digest, sha256_of(""));
}

TEST(parse_checksum_text_test, last_line_without_newline) {
  const auto entries = parse_checksum_text(with_hex("", "  a.dump"));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].file_name, "a.dump");
}

TEST(parse_checksum_text_test, empty_text_is_an_empty_list) {
  const auto empty = parse_checksum_text("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  const auto blank = parse_checksum_text("\n\r\n\n");
  ASSERT_TRUE(blank.has_value());
  EXPECT_TRUE(blank->empty());
}

TEST(parse_checksum_text_test, any_malformed_line_fails_the_whole_text) {
  EXPECT_EQ(parse_checksum_text(with_hex("", "  a.dump\n") + "garbage\n"), std::nullopt);
  EXPECT_EQ(parse_checksum_text(with_hex("", " a.dump\n")), std::nullopt);
  EXPECT_EQ(parse_checksum_text(with_hex("", "  a.dump\n") + " \n"), std::nullopt);
}

// --- compatibility with GNU sha256sum ---------------------------------------------------------

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct command_result {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh, returning its exit code and standard output.
command_result run(const std::string& command) {
  command_result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

class sha256sum_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run("command -v sha256sum >/dev/null 2>&1").exit_code != 0) {
      GTEST_SKIP() << "sha256sum is not installed";
    }
  }

  temp_dir dir_;
  std::string cd_ = "cd " + shell_quote(dir_.path().string()) + " && ";
};

TEST_F(sha256sum_test, accepts_our_checksum_file) {
  const std::string content = "-- pretend pg_dump archive --\n" + std::string(100'000, 'x');
  write_file(dir_ / "mydb-20260101-030000.dump", content);
  write_file(dir_ / "mydb-20260101-030000.dump.sha256",
             format_checksum_line(sha256_of(content), "mydb-20260101-030000.dump"));

  const auto result = run(cd_ + "sha256sum -c --strict mydb-20260101-030000.dump.sha256 2>&1");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "mydb-20260101-030000.dump: OK\n");
}

TEST_F(sha256sum_test, rejects_our_checksum_file_for_changed_content) {
  write_file(dir_ / "a.dump", "changed");
  write_file(dir_ / "a.dump.sha256", format_checksum_line(sha256_of("original"), "a.dump"));
  const auto result = run(cd_ + "sha256sum -c --strict a.dump.sha256 2>/dev/null");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "a.dump: FAILED\n");
}

TEST_F(sha256sum_test, its_output_parses_to_our_digest) {
  const std::string content = "some dump bytes\x01\x02\xff";
  write_file(dir_ / "a_b.c", content);

  const auto text_mode = run(cd_ + "sha256sum a_b.c");
  ASSERT_EQ(text_mode.exit_code, 0);
  EXPECT_EQ(text_mode.output, format_checksum_line(sha256_of(content), "a_b.c"));
  const auto parsed = parse_checksum_line(text_mode.output);
  ASSERT_TRUE(parsed.has_value()) << text_mode.output;
  EXPECT_EQ(parsed->digest, sha256_of(content));
  EXPECT_EQ(parsed->file_name, "a_b.c");

  const auto binary_mode = run(cd_ + "sha256sum --binary a_b.c");
  ASSERT_EQ(binary_mode.exit_code, 0);
  const auto parsed_binary = parse_checksum_line(binary_mode.output);
  ASSERT_TRUE(parsed_binary.has_value()) << binary_mode.output;
  EXPECT_EQ(parsed_binary->digest, sha256_of(content));
  EXPECT_EQ(parsed_binary->file_name, "a_b.c");

  const auto tagged = run(cd_ + "sha256sum --tag a_b.c");
  ASSERT_EQ(tagged.exit_code, 0);
  const auto parsed_tagged = parse_checksum_line(tagged.output);
  ASSERT_TRUE(parsed_tagged.has_value()) << tagged.output;
  EXPECT_EQ(parsed_tagged->digest, sha256_of(content));
  EXPECT_EQ(parsed_tagged->file_name, "a_b.c");
}

TEST_F(sha256sum_test, its_multi_file_output_parses_as_text) {
  write_file(dir_ / "one.dump", "1");
  write_file(dir_ / "two.dump", "22");
  const auto result = run(cd_ + "sha256sum one.dump two.dump");
  ASSERT_EQ(result.exit_code, 0);
  const auto entries = parse_checksum_text(result.output);
  ASSERT_TRUE(entries.has_value()) << result.output;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].file_name, "one.dump");
  EXPECT_EQ((*entries)[0].digest, sha256_of("1"));
  EXPECT_EQ((*entries)[1].file_name, "two.dump");
  EXPECT_EQ((*entries)[1].digest, sha256_of("22"));
}

}  // namespace
}  // namespace pgship

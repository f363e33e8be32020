// RFC 9112 framing and Host rules of the HTTP core, as pure functions over a header.

#include <gtest/gtest.h>

#include <pgship/common/http/framing.hpp>

namespace pgship::http_framing {
namespace {

http::fields fields_of(std::initializer_list<std::pair<std::string, std::string>> list) {
  http::fields f;
  for (const auto& [name, value] : list)
    f.insert(name, value);
  return f;
}

TEST(http_framing_test, acceptable_framings) {
  EXPECT_EQ(framing_problem(fields_of({}), 11), std::nullopt);
  EXPECT_EQ(framing_problem(fields_of({{"Content-Length", "0"}}), 11), std::nullopt);
  EXPECT_EQ(framing_problem(fields_of({{"Content-Length", " 12345 "}}), 10), std::nullopt);
  EXPECT_EQ(framing_problem(fields_of({{"Transfer-Encoding", "chunked"}}), 11), std::nullopt);
  EXPECT_EQ(framing_problem(fields_of({{"Transfer-Encoding", "Chunked"}}), 11), std::nullopt);
}

TEST(http_framing_test, transfer_encoding_must_be_a_lone_chunked) {
  for (const char* te : {"gzip", "identity", "chunked, gzip", "gzip, chunked", "chunked,chunked",
                         "chunked;q=1", ""}) {
    SCOPED_TRACE(te);
    EXPECT_NE(framing_problem(fields_of({{"Transfer-Encoding", te}}), 11), std::nullopt);
  }
  EXPECT_NE(
      framing_problem(
          fields_of({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}), 11),
      std::nullopt);
}

TEST(http_framing_test, transfer_encoding_with_content_length_or_in_http10) {
  const auto both =
      framing_problem(fields_of({{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}), 11);
  ASSERT_NE(both, std::nullopt);
  EXPECT_NE(both->find("Content-Length"), std::string::npos);
  EXPECT_NE(framing_problem(fields_of({{"Transfer-Encoding", "chunked"}}), 10), std::nullopt);
}

TEST(http_framing_test, content_length_is_one_decimal_number) {
  for (const char* cl : {"5, 5", "5,6", "+5", "-1", "0x10", "5 5", ""}) {
    SCOPED_TRACE(cl);
    EXPECT_NE(framing_problem(fields_of({{"Content-Length", cl}}), 11), std::nullopt);
  }
  EXPECT_NE(framing_problem(fields_of({{"Content-Length", "5"}, {"Content-Length", "5"}}), 11),
            std::nullopt);
}

TEST(http_framing_test, host_rules) {
  EXPECT_EQ(host_problem(fields_of({{"Host", "backup.example:9101"}}), 11), std::nullopt);
  EXPECT_EQ(host_problem(fields_of({{"Host", "[::1]:9101"}}), 11), std::nullopt);
  EXPECT_EQ(host_problem(fields_of({{"Host", ""}}), 11), std::nullopt);
  EXPECT_EQ(host_problem(fields_of({}), 10), std::nullopt);
  EXPECT_NE(host_problem(fields_of({}), 11), std::nullopt);
  EXPECT_NE(host_problem(fields_of({{"Host", "a"}, {"Host", "a"}}), 11), std::nullopt);
  EXPECT_NE(host_problem(fields_of({{"Host", "a"}, {"Host", "b"}}), 10), std::nullopt);
  EXPECT_NE(host_problem(fields_of({{"Host", "user@host"}}), 11), std::nullopt);
  EXPECT_NE(host_problem(fields_of({{"Host", "a b"}}), 11), std::nullopt);
  EXPECT_NE(host_problem(fields_of({{"Host", "::1:9101"}}), 11), std::nullopt);
}

TEST(http_framing_test, line_too_long_has_a_clear_message) {
  const error_code ec = errc::line_too_long;
  EXPECT_NE(ec.message().find("8192"), std::string::npos);
}

}  // namespace
}  // namespace pgship::http_framing

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "ingest/raw/multipart.hpp"

namespace pgship::receiver {
namespace {

using namespace std::string_literals;

// As curl 7.88 sends `curl -F file=@x.dump -F sha256=abc`: 24 dashes and 16 hex digits.
constexpr std::string_view curl_boundary = "------------------------d74496d66958873e";

std::string file_part(std::string_view boundary, std::string_view data,
                      std::string_view filename = "x.dump") {
  return "--"s.append(boundary) + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
         std::string(filename) + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
         std::string(data) + "\r\n";
}

std::string field_part(std::string_view boundary, std::string_view name, std::string_view value) {
  return "--"s.append(boundary) + "\r\nContent-Disposition: form-data; name=\"" +
         std::string(name) + "\"\r\n\r\n" + std::string(value) + "\r\n";
}

std::string closing(std::string_view boundary) {
  return "--"s.append(boundary) + "--\r\n";
}

struct recorded_part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string data;
  bool ended = false;
};

struct outcome {
  bool ok = true;
  bool done = false;
  std::string error;
  std::vector<recorded_part> parts;
  std::size_t data_calls = 0;
  std::size_t chunks = 0;
};

// Records every callback; also checks that callbacks come in a valid order.
multipart_parser::callbacks recorder(outcome& out) {
  return {
      .on_part_begin =
          [&out](const multipart_parser::part_info& info) {
            EXPECT_TRUE(out.parts.empty() || out.parts.back().ended) << "begin inside a part";
            out.parts.push_back({info.name, info.filename, info.content_type, "", false});
            return true;
          },
      .on_part_data =
          [&out](std::string_view data) {
            EXPECT_FALSE(data.empty()) << "empty data callback";
            EXPECT_TRUE(!out.parts.empty() && !out.parts.back().ended) << "data outside a part";
            if (!out.parts.empty()) out.parts.back().data.append(data);
            ++out.data_calls;
            return true;
          },
      .on_part_end =
          [&out] {
            EXPECT_TRUE(!out.parts.empty() && !out.parts.back().ended) << "end outside a part";
            if (!out.parts.empty()) out.parts.back().ended = true;
            return true;
          },
  };
}

// Feeds `body` in the chunks `next_size` chooses, stopping at the first failure or at done().
template <class Sizes>
outcome parse_with(std::string_view body, std::string_view boundary, Sizes next_size,
                   std::size_t max_header_bytes = 16 * 1024) {
  outcome out;
  multipart_parser parser(std::string(boundary), recorder(out), max_header_bytes);
  while (!body.empty() && !parser.done()) {
    const std::size_t n = std::min(body.size(), std::max<std::size_t>(1, next_size()));
    ++out.chunks;
    if (!parser.feed(body.substr(0, n))) {
      out.ok = false;
      break;
    }
    body.remove_prefix(n);
  }
  out.done = parser.done();
  out.error = parser.error();
  return out;
}

outcome parse_whole(std::string_view body, std::string_view boundary = curl_boundary,
                    std::size_t max_header_bytes = 16 * 1024) {
  return parse_with(
      body, boundary, [&] { return body.size(); }, max_header_bytes);
}

outcome parse_bytewise(std::string_view body, std::string_view boundary = curl_boundary) {
  return parse_with(body, boundary, [] { return std::size_t{1}; });
}

void expect_same(const outcome& a, const outcome& b, std::string_view context) {
  SCOPED_TRACE(context);
  EXPECT_EQ(a.ok, b.ok);
  EXPECT_EQ(a.done, b.done);
  EXPECT_EQ(a.error, b.error);
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (std::size_t i = 0; i < a.parts.size(); ++i) {
    EXPECT_EQ(a.parts[i].name, b.parts[i].name);
    EXPECT_EQ(a.parts[i].filename, b.parts[i].filename);
    EXPECT_EQ(a.parts[i].content_type, b.parts[i].content_type);
    EXPECT_EQ(a.parts[i].data, b.parts[i].data);
    EXPECT_EQ(a.parts[i].ended, b.parts[i].ended);
  }
}

// --- multipart_boundary -----------------------------------------------------------------------

TEST(multipart_boundary_test, reads_the_boundary_parameter) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(curl_boundary)),
            std::optional<std::string>(curl_boundary));
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"quoted b;x=y\""),
            std::optional<std::string>("quoted b;x=y"));
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;BOUNDARY=abc"),
            std::optional<std::string>("abc"));
  EXPECT_EQ(multipart_boundary("  multipart/form-data ;  charset=utf-8 ; boundary = abc  "),
            std::optional<std::string>("abc"));
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc; charset=\"utf-8\""),
            std::optional<std::string>("abc"));
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a\\\"b\""),
            std::optional<std::string>("a\"b"));
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'x')),
            std::optional<std::string>(std::string(70, 'x')));
}

TEST(multipart_boundary_test, rejects_other_types_and_bad_boundaries) {
  for (const std::string& content_type : std::vector<std::string>{
           "",
           "application/octet-stream",
           "multipart/mixed; boundary=abc",
           "multipart/form-data-x; boundary=abc",
           "text/plain; boundary=abc",
           "multipart/form-data",
           "multipart/form-data;",
           "multipart/form-data; charset=utf-8",
           "multipart/form-data; boundary=",
           "multipart/form-data; boundary=\"\"",
           "multipart/form-data; boundary=\"abc",
           "multipart/form-data; boundary=\"abc\"x",
           "multipart/form-data; boundary",
           "multipart/form-data; xboundary=abc",
           "multipart/form-data; boundary=" + std::string(71, 'x'),
           "multipart/form-data; boundary=\"a\rb\"",
           "multipart/form-data; boundary=\"a\nb\"",
       }) {
    EXPECT_EQ(multipart_boundary(content_type), std::nullopt) << content_type;
  }
}

// --- well-formed bodies -----------------------------------------------------------------------

TEST(multipart_parser_test, parses_what_curl_sends) {
  const std::string body = file_part(curl_boundary, "PGDMP\x01\x02\r\n--x") +
                           field_part(curl_boundary, "sha256", "abc") + closing(curl_boundary);
  const auto out = parse_whole(body);
  EXPECT_TRUE(out.ok) << out.error;
  EXPECT_TRUE(out.done);
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].name, "file");
  EXPECT_EQ(out.parts[0].filename, std::optional<std::string>("x.dump"));
  EXPECT_EQ(out.parts[0].content_type, "application/octet-stream");
  EXPECT_EQ(out.parts[0].data, "PGDMP\x01\x02\r\n--x");
  EXPECT_TRUE(out.parts[0].ended);
  EXPECT_EQ(out.parts[1].name, "sha256");
  EXPECT_EQ(out.parts[1].filename, std::nullopt);
  EXPECT_EQ(out.parts[1].content_type, "");
  EXPECT_EQ(out.parts[1].data, "abc");
  EXPECT_TRUE(out.parts[1].ended);
}

TEST(multipart_parser_test, parses_fields_in_either_order) {
  const std::string body = field_part(curl_boundary, "sha256", std::string(64, 'f')) +
                           file_part(curl_boundary, "dump bytes") + closing(curl_boundary);
  const auto out = parse_whole(body);
  EXPECT_TRUE(out.done);
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].name, "sha256");
  EXPECT_EQ(out.parts[0].data, std::string(64, 'f'));
  EXPECT_EQ(out.parts[1].name, "file");
  EXPECT_EQ(out.parts[1].data, "dump bytes");
}

TEST(multipart_parser_test, every_split_point_gives_the_same_result) {
  const std::string body = "preamble\r\n" + file_part(curl_boundary, "a\r\n--b\r\r\n-") +
                           field_part(curl_boundary, "sha256", "abc") + closing(curl_boundary) +
                           "epilogue";
  const auto whole = parse_whole(body);
  ASSERT_TRUE(whole.done);
  expect_same(parse_bytewise(body), whole, "one byte at a time");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    const std::size_t sizes[] = {cut, body.size()};
    std::size_t next = 0;
    expect_same(parse_with(body, curl_boundary, [&] { return sizes[next++]; }), whole,
                "cut at " + std::to_string(cut));
  }

  // Every pair of cuts in a short body (an empty chunk becomes a 1-byte one, which only
  // shifts the later cuts).
  const std::string short_body =
      "p\r\n--bb\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\na\r\n--b\r\r\n-"
      "\r\n--bb\r\nContent-Disposition: form-data; name=\"g\"\r\n\r\n\r\n--bb--e";
  const auto short_whole = parse_whole(short_body, "bb");
  ASSERT_TRUE(short_whole.done) << short_whole.error;
  ASSERT_EQ(short_whole.parts.size(), 2u);
  EXPECT_EQ(short_whole.parts[0].data, "a\r\n--b\r\r\n-");
  EXPECT_EQ(short_whole.parts[1].data, "");
  for (std::size_t first = 0; first <= short_body.size(); ++first) {
    for (std::size_t second = first; second <= short_body.size(); ++second) {
      const std::size_t sizes[] = {first, second - first, short_body.size()};
      std::size_t next = 0;
      expect_same(
          parse_with(short_body, "bb", [&] { return sizes[std::min<std::size_t>(next++, 2)]; }),
          short_whole, "cuts at " + std::to_string(first) + ", " + std::to_string(second));
    }
  }
}

TEST(multipart_parser_test, ignores_preamble_and_epilogue) {
  const std::string body = "This is the preamble.\r\n--not-the-boundary\r\n\r\n" +
                           field_part("b", "f", "v") + closing("b") +
                           "epilogue\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n";
  const auto out = parse_whole(body, "b");
  EXPECT_TRUE(out.ok) << out.error;
  EXPECT_TRUE(out.done);
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].name, "f");
  EXPECT_EQ(out.parts[0].data, "v");
}

TEST(multipart_parser_test, preamble_may_hold_partial_delimiters) {
  const std::string body = "--bounda\r\n\r\n--boundar\r\n--\r\n" +
                           field_part("boundary", "f", "v") + closing("boundary");
  const auto out = parse_whole(body, "boundary");
  EXPECT_TRUE(out.done) << out.error;
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, "v");
  expect_same(parse_bytewise(body, "boundary"), out, "bytewise");
}

TEST(multipart_parser_test, feeding_after_done_fails) {
  multipart_parser parser("b", {});
  EXPECT_TRUE(parser.feed(field_part("b", "f", "v") + "--b--"));
  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.feed("\r\n"));
  EXPECT_EQ(parser.error(), "multipart data after the final boundary");
  EXPECT_TRUE(parser.done());
}

TEST(multipart_parser_test, empty_callbacks_are_allowed) {
  multipart_parser parser(std::string(curl_boundary), {});
  EXPECT_TRUE(parser.feed(""));
  EXPECT_TRUE(parser.feed(file_part(curl_boundary, "data") + closing(curl_boundary)));
  EXPECT_TRUE(parser.done());
}

TEST(multipart_parser_test, data_that_resembles_a_delimiter_passes_through) {
  const std::string boundary = "boundary";
  for (const std::string& data : std::vector<std::string>{
           "",
           "\r",
           "\n",
           "\r\n",
           "\r\n-",
           "\r\n--",
           "\r\n--b",
           "\r\n--boundar",
           "\r\n--boundarX",
           "x\r\n--boundarx\r\n--boundar",
           "\r\r\n--boundar\r",
           "--boundary",        // no CRLF before it: not a delimiter
           "--boundary--",      //
           "\n--boundary\r\n",  // LF alone is not a line break here
           "\r--boundary\r\n",  // CR alone neither
           "a\r\n-\r\n--\r\n--b\r\n--bo\r\n--boundar\r\n",
           "\r\n\r\n\r\n\r\n",
           std::string("\0\r\n--\0boundary", 15),
       }) {
    const std::string body = file_part(boundary, data) + closing(boundary);
    const auto whole = parse_whole(body, boundary);
    ASSERT_TRUE(whole.done) << whole.error;
    ASSERT_EQ(whole.parts.size(), 1u);
    EXPECT_EQ(whole.parts[0].data, data);
    expect_same(parse_bytewise(body, boundary), whole, "bytewise: " + data);
  }
}

TEST(multipart_parser_test, a_self_overlapping_delimiter_is_found_after_a_false_start) {
  // multipart_boundary() never yields such boundaries, but the parser takes any string. With
  // delimiter "\r\n--\r\n-x", the data "1\r\n--" followed by it reads "\r\n--\r\n-" then
  // '-': that mismatch is itself inside a shorter candidate ("\r\n--"), which restarting the
  // match at the failing byte would miss.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\r\n-x", "1\r\n--"},
      {"\r\n-x", "\r\n--\r\n-\r\n--\r\n--"},
      {"ab\r\n--ab", "1\r\n--ab\r\n--a"},
  };
  for (const auto& [boundary, data] : cases) {
    const std::string body = "--" + boundary +
                             "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + data +
                             "\r\n--" + boundary + "--";
    const auto whole = parse_whole(body, boundary);
    ASSERT_TRUE(whole.done) << whole.error;
    ASSERT_EQ(whole.parts.size(), 1u);
    EXPECT_EQ(whole.parts[0].data, data);
    expect_same(parse_bytewise(body, boundary), whole, "bytewise");
  }
}

TEST(multipart_parser_test, empty_parts_and_many_parts) {
  std::string body;
  for (int i = 0; i < 5; ++i)
    body += field_part("b", "f" + std::to_string(i), i % 2 == 0 ? "" : std::to_string(i));
  body += closing("b");
  const auto out = parse_whole(body, "b");
  EXPECT_TRUE(out.done) << out.error;
  ASSERT_EQ(out.parts.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out.parts[i].name, "f" + std::to_string(i));
    EXPECT_EQ(out.parts[i].data, i % 2 == 0 ? "" : std::to_string(i));
    EXPECT_TRUE(out.parts[i].ended);
  }
}

TEST(multipart_parser_test, boundary_line_may_carry_transport_padding) {
  const std::string body =
      "--b \t \r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b\t\r\n"
      "Content-Disposition: form-data; name=\"g\"\r\n\r\nw\r\n--b--";
  const auto out = parse_whole(body, "b");
  EXPECT_TRUE(out.done) << out.error;
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].data, "v");
  EXPECT_EQ(out.parts[1].data, "w");
}

TEST(multipart_parser_test, a_close_delimiter_without_parts_is_done) {
  const auto out = parse_whole("--b--\r\n", "b");
  EXPECT_TRUE(out.ok);
  EXPECT_TRUE(out.done);
  EXPECT_TRUE(out.parts.empty());
}

// --- part headers -----------------------------------------------------------------------------

multipart_parser::part_info headers_of(const std::string& header_lines) {
  const auto out = parse_whole("--b\r\n" + header_lines + "\r\n\r\ndata\r\n--b--", "b");
  EXPECT_TRUE(out.done) << out.error << "\n" << header_lines;
  if (out.parts.size() != 1) {
    ADD_FAILURE() << "expected one part:\n" << header_lines;
    return {};
  }
  EXPECT_EQ(out.parts[0].data, "data");
  return {out.parts[0].name, out.parts[0].filename, out.parts[0].content_type};
}

TEST(multipart_parser_test, reads_content_disposition_parameters) {
  auto info =
      headers_of("Content-Disposition: form-data; name=\"file\"; filename=\"my backup.dump\"");
  EXPECT_EQ(info.name, "file");
  EXPECT_EQ(info.filename, std::optional<std::string>("my backup.dump"));

  info = headers_of(
      "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"quoted\\\" \\\\ name\"");
  EXPECT_EQ(info.filename, std::optional<std::string>("a \"quoted\" \\ name"));

  info = headers_of("Content-Disposition: form-data; filename=\"x;y=z.dump\"; name=\"file\"");
  EXPECT_EQ(info.name, "file");
  EXPECT_EQ(info.filename, std::optional<std::string>("x;y=z.dump"));

  info = headers_of("content-disposition:FORM-DATA;NAME=sha256");
  EXPECT_EQ(info.name, "sha256");
  EXPECT_EQ(info.filename, std::nullopt);
  EXPECT_EQ(info.content_type, "");

  info = headers_of("Content-Disposition: form-data; name=\"file\"; filename=\"\"");
  EXPECT_EQ(info.filename, std::optional<std::string>(""));

  // curl 7.81+ percent-encodes a quote in a file name; that is passed on as sent.
  info = headers_of("Content-Disposition: form-data; name=\"file\"; filename=\"x y%22.dump\"");
  EXPECT_EQ(info.filename, std::optional<std::string>("x y%22.dump"));
}

TEST(multipart_parser_test, reads_content_type_and_ignores_other_headers) {
  auto info = headers_of(
      "X-Other: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: form-data; "
      "name=\"note\"\r\nContent-Transfer-Encoding: binary");
  EXPECT_EQ(info.name, "note");
  EXPECT_EQ(info.content_type, "text/plain; charset=utf-8");

  info = headers_of("Content-Disposition: form-data;\r\n name=\"folded\"");
  EXPECT_EQ(info.name, "folded");
}

TEST(multipart_parser_test, rejects_bad_part_headers) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "multipart part has no Content-Disposition"},
      {"Content-Type: text/plain", "multipart part has no Content-Disposition"},
      {"Content-Disposition: attachment; name=\"f\"",
       "multipart part Content-Disposition is not form-data"},
      {"Content-Disposition: form-data; name=\"f",
       "multipart part Content-Disposition is not form-data"},
      {"Content-Disposition: form-data; filename=\"x\"",
       "multipart part Content-Disposition has no name"},
      {"Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"",
       "multipart part has two Content-Disposition headers"},
      {"Content-Disposition form-data; name=\"f\"", "malformed multipart part header line"},
      {"Content-Disposition: form-data; name=\"f\"\r\n: empty name",
       "malformed multipart part header line"},
  };
  for (const auto& [lines, message] : cases) {
    const std::string body =
        "--b\r\n" + lines + (lines.empty() ? "" : "\r\n") + "\r\ndata\r\n--b--";
    const auto out = parse_whole(body, "b");
    EXPECT_FALSE(out.ok) << lines;
    EXPECT_FALSE(out.done) << lines;
    EXPECT_EQ(out.error, message) << lines;
    EXPECT_TRUE(out.parts.empty()) << lines;
  }
}

TEST(multipart_parser_test, header_section_is_bounded) {
  const std::string head = "--b\r\n";
  const std::string section = "Content-Disposition: form-data; name=\"f\"\r\n\r\n";
  const std::string body = head + section + "v\r\n--b--";

  const auto at_limit = parse_whole(body, "b", section.size());
  EXPECT_TRUE(at_limit.done) << at_limit.error;

  const auto over = parse_whole(body, "b", section.size() - 1);
  EXPECT_FALSE(over.ok);
  EXPECT_EQ(over.error,
            "multipart part headers larger than " + std::to_string(section.size() - 1) + " bytes");

  // A header that never ends is refused once it passes the limit, in any chunking.
  const std::string endless = head + "X-Pad: " + std::string(1 << 20, 'a');
  for (const auto& out :
       {parse_whole(endless, "b", 1024), parse_with(
                                             endless, "b", [] { return std::size_t{7}; }, 1024)}) {
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.error, "multipart part headers larger than 1024 bytes");
    EXPECT_LT(out.chunks, 200u) << "stopped at the limit, not at the end of the input";
  }
}

// --- malformed bodies -------------------------------------------------------------------------

TEST(multipart_parser_test, missing_final_boundary_is_not_done) {
  const std::string full = file_part("b", "payload\r\n--") + closing("b");
  // Cut anywhere before the closing "--": never done, never an error, and the data seen
  // is a prefix of the payload.
  const std::size_t closing_dashes = full.size() - 4;
  for (std::size_t cut = 0; cut < closing_dashes; ++cut) {
    const auto out = parse_whole(std::string_view(full).substr(0, cut), "b");
    EXPECT_TRUE(out.ok) << cut << ": " << out.error;
    EXPECT_FALSE(out.done) << cut;
    if (!out.parts.empty()) {
      EXPECT_TRUE(std::string_view("payload\r\n--").starts_with(out.parts[0].data))
          << cut << ": " << out.parts[0].data;
    }
  }
  const auto truncated = parse_whole(file_part("b", "payload"), "b");
  ASSERT_EQ(truncated.parts.size(), 1u);
  EXPECT_EQ(truncated.parts[0].data, "payload");
  EXPECT_FALSE(truncated.parts[0].ended);
  EXPECT_FALSE(truncated.done);

  // Possible delimiter bytes are held back until they are decided.
  const auto held = parse_whole(file_part("b", "payload") + "--", "b");
  ASSERT_EQ(held.parts.size(), 1u);
  EXPECT_EQ(held.parts[0].data, "payload");
}

TEST(multipart_parser_test, text_after_a_boundary_is_an_error) {
  for (const std::string& bad : std::vector<std::string>{"--bX\r\n", "--b-x", "--b -\r\n", "--b\rx",
                                                         "--b\n", "--b\r\r\n", "--b\t--"}) {
    const std::string body = field_part("b", "f", "v") + bad + "rest";
    const auto whole = parse_whole(body, "b");
    EXPECT_FALSE(whole.ok) << bad;
    EXPECT_FALSE(whole.done) << bad;
    EXPECT_NE(whole.error, "") << bad;
    EXPECT_EQ(whole.error, bad == "--b\rx" || bad == "--b\r\r\n"
                               ? "multipart boundary line not ended by CRLF"
                               : "unexpected text after a multipart boundary")
        << bad;
    expect_same(parse_bytewise(body, "b"), whole, "bytewise: " + bad);
  }
  // Also as the first boundary.
  EXPECT_FALSE(parse_whole("--bX\r\n", "b").ok);
}

TEST(multipart_parser_test, stays_failed_after_an_error) {
  multipart_parser parser("b", {});
  EXPECT_FALSE(parser.feed("--b?"));
  const std::string error = parser.error();
  EXPECT_EQ(error, "unexpected text after a multipart boundary");
  EXPECT_FALSE(parser.feed("\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"));
  EXPECT_FALSE(parser.feed(""));
  EXPECT_EQ(parser.error(), error);
}

TEST(multipart_parser_test, a_callback_can_stop_parsing) {
  const std::string body = file_part("b", "data") + closing("b");
  struct stop_case {
    const char* what;
    multipart_parser::callbacks cb;
    std::string error;
  };
  const std::vector<stop_case> cases = {
      {"begin",
       {.on_part_begin = [](const auto&) { return false; }},
       "the part begin handler stopped the upload"},
      {"data",
       {.on_part_data = [](std::string_view) { return false; }},
       "the part data handler stopped the upload"},
      {"end", {.on_part_end = [] { return false; }}, "the part end handler stopped the upload"},
  };
  for (const auto& c : cases) {
    multipart_parser parser("b", c.cb);
    EXPECT_FALSE(parser.feed(body)) << c.what;
    EXPECT_FALSE(parser.done()) << c.what;
    EXPECT_EQ(parser.error(), c.error) << c.what;
    EXPECT_FALSE(parser.feed("more")) << c.what;
  }
}

// --- streaming --------------------------------------------------------------------------------

// Random bytes, with extra CR, LF, '-' and pieces of the delimiter mixed in so that partial
// matches are common. Any whole delimiter that forms is broken by replacing its CR with NUL
// (which no delimiter here contains, so no new one can form).
std::string random_payload(std::mt19937_64& rng, std::size_t size, std::string_view boundary) {
  const std::string delimiter = "\r\n--" + std::string(boundary);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<std::size_t> prefix(1, delimiter.size() - 1);
  std::string out;
  while (out.size() < size) {
    switch (kind(rng)) {
      case 0:
        out += "\r\n";
        break;
      case 1:
        out += '-';
        break;
      case 2:
        out += delimiter.substr(0, prefix(rng));
        break;
      default:
        out += static_cast<char>(byte(rng));
        break;
    }
  }
  out.resize(size);
  // Followed by the real delimiter, the payload must not end a part early.
  std::string with_end = out + delimiter;
  for (auto at = with_end.find(delimiter); at < out.size(); at = with_end.find(delimiter, at)) {
    out[at] = '\0';
    with_end[at] = '\0';
  }
  return out;
}

TEST(multipart_parser_test, random_payloads_in_random_chunks_come_out_unchanged) {
  std::mt19937_64 rng(20260101);
  for (int round = 0; round < 40; ++round) {
    const std::string boundary =
        round % 2 == 0 ? std::string(curl_boundary) : "b" + std::to_string(round);
    std::uniform_int_distribution<std::size_t> size(0, round < 30 ? 3000 : 300000);
    const std::string payload = random_payload(rng, size(rng), boundary);
    const std::string checksum = random_payload(rng, 64, boundary);
    const std::string body = "pre\r\n" + field_part(boundary, "sha256", checksum) +
                             file_part(boundary, payload) + closing(boundary) + "\r\n";

    std::uniform_int_distribution<std::size_t> small(1, 16);
    std::uniform_int_distribution<std::size_t> large(1, 70000);
    std::uniform_int_distribution<int> coin(0, 1);
    const auto out =
        parse_with(body, boundary, [&] { return coin(rng) ? small(rng) : large(rng); });
    SCOPED_TRACE("round " + std::to_string(round) + ", payload " + std::to_string(payload.size()));
    EXPECT_TRUE(out.ok) << out.error;
    EXPECT_TRUE(out.done);
    ASSERT_EQ(out.parts.size(), 2u);
    EXPECT_EQ(out.parts[0].data, checksum);
    EXPECT_TRUE(out.parts[1].data == payload) << "payload differs";
    EXPECT_TRUE(out.parts[1].ended);
    // Delimiter-like bytes do not fragment the data: at most two callbacks per chunk.
    EXPECT_LE(out.data_calls, 2 * out.chunks + 2);
    if (payload.size() < 3000) expect_same(parse_bytewise(body, boundary), out, "bytewise");
  }
}

TEST(multipart_parser_test, a_large_chunk_is_passed_on_in_few_calls) {
  std::mt19937_64 rng(7);
  const std::string payload = random_payload(rng, 2 << 20, curl_boundary);
  const std::string body = file_part(curl_boundary, payload) + closing(curl_boundary);
  const auto out = parse_whole(body);
  ASSERT_TRUE(out.done) << out.error;
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_TRUE(out.parts[0].data == payload);
  EXPECT_EQ(out.data_calls, 1u);
}

}  // namespace
}  // namespace pgship::receiver

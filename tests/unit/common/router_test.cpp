#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/router.hpp>

namespace pgship::http_server {
namespace {

using outcome = route_match::outcome;
using http::verb;

handler noop() {
  return [](exchange&) -> net::awaitable<void> { co_return; };
}

// Each route gets a distinct body limit so a test can tell which one matched.
route_options tagged(std::uint64_t tag) {
  return route_options{tag};
}

class router_test : public ::testing::Test {
 protected:
  router_test() {
    r_.add(verb::get, "/health", noop(), tagged(1));
    r_.add(verb::get, "/", noop(), tagged(2));
    r_.add(verb::get, "/backups/latest", noop(), tagged(3));
    r_.add(verb::get, "/backups/{name}", noop(), tagged(4));
    r_.add(verb::put, "/backups/{name}", noop(), route_options{std::nullopt});
    r_.add(verb::delete_, "/backups/{name}", noop(), tagged(6));
    r_.add(verb::get, "/db/{database}/runs/{run_id}", noop(), tagged(7));
  }

  router r_;
};

TEST_F(router_test, literal_match) {
  const auto m = r_.match(verb::get, "/health");
  EXPECT_EQ(m.result, outcome::found);
  ASSERT_NE(m.target, nullptr);
  EXPECT_TRUE(static_cast<bool>(*m.target));
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(1));
  EXPECT_EQ(m.allow, "");
}

TEST_F(router_test, root_path) {
  const auto m = r_.match(verb::get, "/");
  EXPECT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(2));
}

TEST_F(router_test, capture_match) {
  const auto m = r_.match(verb::get, "/backups/mydb-20260101-030000.dump");
  ASSERT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(4));
  EXPECT_EQ(m.params.get("name"), "mydb-20260101-030000.dump");
  EXPECT_EQ(m.params.get("other"), "");
}

TEST_F(router_test, routes_are_tried_in_registration_order) {
  const auto m = r_.match(verb::get, "/backups/latest");
  ASSERT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(3));
  EXPECT_EQ(m.params.get("name"), "");
}

TEST_F(router_test, method_selects_the_route) {
  const auto put = r_.match(verb::put, "/backups/x.dump");
  ASSERT_EQ(put.result, outcome::found);
  EXPECT_EQ(put.options.body_limit, std::nullopt);
  EXPECT_EQ(put.params.get("name"), "x.dump");
  const auto del = r_.match(verb::delete_, "/backups/x.dump");
  ASSERT_EQ(del.result, outcome::found);
  EXPECT_EQ(del.options.body_limit, std::optional<std::uint64_t>(6));
}

TEST_F(router_test, several_captures) {
  const auto m = r_.match(verb::get, "/db/sales/runs/42");
  ASSERT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(7));
  EXPECT_EQ(m.params.get("database"), "sales");
  EXPECT_EQ(m.params.get("run_id"), "42");
}

TEST_F(router_test, captures_are_percent_decoded) {
  const auto m = r_.match(verb::get, "/backups/my%20db%2e%41%62.dump");
  ASSERT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.params.get("name"), "my db.Ab.dump");
  const auto utf8 = r_.match(verb::get, "/db/%E2%82%AC/runs/%25");
  ASSERT_EQ(utf8.result, outcome::found);
  EXPECT_EQ(utf8.params.get("database"), "\xE2\x82\xAC");
  EXPECT_EQ(utf8.params.get("run_id"), "%");
}

TEST_F(router_test, unknown_path_is_not_found) {
  for (std::string_view path :
       {"/nope", "/healthz", "/Health", "/backup/x", "/db/x/runs", "", "health", "backups/x"}) {
    const auto m = r_.match(verb::get, path);
    EXPECT_EQ(m.result, outcome::not_found) << '"' << path << '"';
    EXPECT_EQ(m.target, nullptr);
    EXPECT_EQ(m.allow, "");
  }
}

TEST_F(router_test, other_method_is_405_with_allow) {
  const auto m = r_.match(verb::post, "/backups/x.dump");
  EXPECT_EQ(m.result, outcome::method_not_allowed);
  EXPECT_EQ(m.target, nullptr);
  EXPECT_EQ(m.allow, "GET, PUT, DELETE");

  const auto head = r_.match(verb::head, "/health");
  EXPECT_EQ(head.result, outcome::method_not_allowed);
  EXPECT_EQ(head.allow, "GET");

  const auto post_root = r_.match(verb::post, "/");
  EXPECT_EQ(post_root.result, outcome::method_not_allowed);
  EXPECT_EQ(post_root.allow, "GET");
}

TEST_F(router_test, allow_lists_each_method_once) {
  // "/backups/latest" matches both the literal route and the capture route for GET.
  const auto m = r_.match(verb::post, "/backups/latest");
  EXPECT_EQ(m.result, outcome::method_not_allowed);
  EXPECT_EQ(m.allow, "GET, PUT, DELETE");
}

TEST_F(router_test, trailing_slash_and_extra_segments_do_not_match) {
  for (std::string_view path : {"/health/", "/health/x", "//health", "/backups/x.dump/",
                                "/backups/x.dump/extra", "/backups", "/db/a/runs/1/"}) {
    EXPECT_EQ(r_.match(verb::get, path).result, outcome::not_found) << path;
    EXPECT_EQ(r_.match(verb::post, path).result, outcome::not_found) << path;
  }
}

TEST_F(router_test, empty_capture_does_not_match) {
  EXPECT_EQ(r_.match(verb::get, "/backups/").result, outcome::not_found);
  EXPECT_EQ(r_.match(verb::put, "/backups/").result, outcome::not_found);
  EXPECT_EQ(r_.match(verb::get, "/db//runs/1").result, outcome::not_found);
  EXPECT_EQ(r_.match(verb::get, "/db/a/runs/").result, outcome::not_found);
}

// Undecodable captures reach the handler still encoded, never decoded into '/' or NUL, so the
// handler's name validation (which refuses '%') answers 400.
TEST_F(router_test, encoded_slash_or_nul_in_a_capture_stays_encoded) {
  for (std::string_view path : {"/backups/a%2Fb", "/backups/a%2fb", "/backups/%2F",
                                "/backups/a%00b", "/backups/%00", "/backups/..%2F..%2Fetc"}) {
    const auto m = r_.match(verb::get, path);
    ASSERT_EQ(m.result, outcome::found) << path;
    EXPECT_EQ(m.params.get("name"), path.substr(std::string_view("/backups/").size())) << path;
  }
}

TEST_F(router_test, bad_escapes_stay_encoded) {
  for (std::string_view path : {"/backups/%zz", "/backups/a%zzb", "/backups/%", "/backups/a%",
                                "/backups/%4", "/backups/a%4", "/backups/%g1", "/backups/%1g"}) {
    const auto m = r_.match(verb::get, path);
    ASSERT_EQ(m.result, outcome::found) << path;
    EXPECT_EQ(m.params.get("name"), path.substr(std::string_view("/backups/").size())) << path;
  }
}

TEST(router_pattern_test, malformed_patterns_throw) {
  router r;
  for (std::string_view pattern : {"", "health", "{name}", "/{}", "/{name", "/name}", "/a{b}",
                                   "/{a}b", "/{a/b}", "/backups/{", "/backups/}", "/x/{na}me}"}) {
    EXPECT_THROW(r.add(verb::get, pattern, noop()), std::invalid_argument) << pattern;
  }
  // Nothing was added by the failed calls.
  EXPECT_EQ(r.match(verb::get, "/a{b}").result, outcome::not_found);
}

TEST(router_pattern_test, empty_router_finds_nothing) {
  const router r;
  EXPECT_EQ(r.match(verb::get, "/").result, outcome::not_found);
  EXPECT_EQ(r.match(verb::get, "/x").result, outcome::not_found);
}

TEST(router_pattern_test, default_body_limit_is_one_mebibyte) {
  router r;
  r.add(verb::post, "/x", noop());
  const auto m = r.match(verb::post, "/x");
  ASSERT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(1024 * 1024));
}

TEST(router_pattern_test, found_after_a_method_mismatch) {
  router r;
  r.add(verb::get, "/x", noop(), tagged(1));
  r.add(verb::post, "/x", noop(), tagged(2));
  const auto m = r.match(verb::post, "/x");
  EXPECT_EQ(m.result, outcome::found);
  EXPECT_EQ(m.options.body_limit, std::optional<std::uint64_t>(2));
}

TEST(router_pattern_test, allow_does_not_confuse_methods_whose_names_contain_others) {
  router r;
  r.add(verb::unlock, "/res", noop());
  r.add(verb::lock, "/res", noop());
  r.add(verb::proppatch, "/res", noop());
  r.add(verb::patch, "/res", noop());
  const auto m = r.match(verb::get, "/res");
  EXPECT_EQ(m.result, outcome::method_not_allowed);
  EXPECT_EQ(m.allow, "UNLOCK, LOCK, PROPPATCH, PATCH");
}

// --- decode_segment ---------------------------------------------------------------------------

TEST(decode_segment_test, decodes_escapes) {
  EXPECT_EQ(decode_segment(""), std::optional<std::string>(""));
  EXPECT_EQ(decode_segment("plain"), std::optional<std::string>("plain"));
  EXPECT_EQ(decode_segment("%41%42c"), std::optional<std::string>("ABc"));
  EXPECT_EQ(decode_segment("a%20b"), std::optional<std::string>("a b"));
  EXPECT_EQ(decode_segment("%7e%7E"), std::optional<std::string>("~~"));
  EXPECT_EQ(decode_segment("%25"), std::optional<std::string>("%"));
  EXPECT_EQ(decode_segment("%2541"), std::optional<std::string>("%41"));  // decoded once only
  EXPECT_EQ(decode_segment("a+b"), std::optional<std::string>("a+b"));    // '+' is not a space
  EXPECT_EQ(decode_segment("%ff"), std::optional<std::string>("\xff"));
}

TEST(decode_segment_test, rejects_malformed_escapes_slash_and_nul) {
  for (std::string_view bad :
       {"%", "%4", "a%", "a%4", "%zz", "%z1", "%1z", "% 1", "%2F", "%2f", "a%2Fb", "%00", "x%00"}) {
    EXPECT_EQ(decode_segment(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(decode_segment(std::string_view("a\0b", 3)), std::nullopt);
  EXPECT_EQ(decode_segment("a/b"), std::nullopt);
}

}  // namespace
}  // namespace pgship::http_server

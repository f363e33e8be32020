#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/config.hpp>
#include <pgship/common/sha256.hpp>

#include "state/tokens.hpp"
#include "temp_dir.hpp"

namespace pgship::receiver {
namespace {

constexpr std::uint8_t upload = static_cast<std::uint8_t>(scope::upload);
constexpr std::uint8_t read = static_cast<std::uint8_t>(scope::read);
constexpr std::uint8_t del = static_cast<std::uint8_t>(scope::del);
constexpr std::uint8_t admin = static_cast<std::uint8_t>(scope::admin);
constexpr std::uint8_t every = upload | read | del | admin;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

class token_file_test : public ::testing::Test {
 protected:
  token_store load(std::string_view content, std::string_view all_scopes_token = "") {
    test::write_file(file_, content);
    return token_store::load(all_scopes_token, file_);
  }

  // The message of the config_error that loading `content` throws ("" and a failure if none).
  std::string load_error(std::string_view content, std::string_view all_scopes_token = "") {
    try {
      load(content, all_scopes_token);
    } catch (const config::config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error for:\n" << content;
    return "";
  }

  test::temp_dir dir_{"pgship-auth-test"};
  std::filesystem::path file_ = dir_ / "api_tokens";
};

// --- parse_scopes and principal::may --------------------------------------------------------

TEST(parse_scopes_test, accepts_lists_of_known_scopes) {
  EXPECT_EQ(parse_scopes("upload"), std::optional<std::uint8_t>(upload));
  EXPECT_EQ(parse_scopes("read"), std::optional<std::uint8_t>(read));
  EXPECT_EQ(parse_scopes("delete"), std::optional<std::uint8_t>(del));
  EXPECT_EQ(parse_scopes("admin"), std::optional<std::uint8_t>(admin));
  EXPECT_EQ(parse_scopes("upload,read"), std::optional<std::uint8_t>(upload | read));
  EXPECT_EQ(parse_scopes(" read , delete "), std::optional<std::uint8_t>(read | del));
  EXPECT_EQ(parse_scopes("upload,read,delete,admin"), std::optional<std::uint8_t>(every));
  EXPECT_EQ(parse_scopes("upload,upload"), std::optional<std::uint8_t>(upload));
  EXPECT_EQ(parse_scopes("Upload,READ"), std::optional<std::uint8_t>(upload | read));
}

TEST(parse_scopes_test, rejects_unknown_or_empty) {
  for (std::string_view text : {"", " ", ",", ",,", "write", "upload,write", "del", "uploads",
                                "upload;read", "upload read", "*", "all"}) {
    EXPECT_EQ(parse_scopes(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(principal_test, may_only_what_its_scopes_say) {
  const principal uploader{"agent", upload};
  EXPECT_TRUE(uploader.may(scope::upload));
  EXPECT_FALSE(uploader.may(scope::read));
  EXPECT_FALSE(uploader.may(scope::del));
  EXPECT_FALSE(uploader.may(scope::admin));

  const principal reader{"ops", read | del};
  EXPECT_FALSE(reader.may(scope::upload));
  EXPECT_TRUE(reader.may(scope::read));
  EXPECT_TRUE(reader.may(scope::del));
  EXPECT_FALSE(reader.may(scope::admin));

  EXPECT_FALSE(principal{}.may(scope::read));
}

TEST(principal_test, admin_implies_every_scope) {
  const principal boss{"boss", admin};
  for (const scope s : {scope::upload, scope::read, scope::del, scope::admin}) {
    EXPECT_TRUE(boss.may(s));
  }
}

// --- loading ----------------------------------------------------------------------------------

TEST(token_store_test, nothing_configured_is_empty_and_accepts_nothing) {
  const auto store = token_store::load("", std::nullopt);
  EXPECT_TRUE(store.empty());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.authenticate("Bearer "), std::nullopt);
  EXPECT_EQ(store.authenticate("Bearer x"), std::nullopt);
}

TEST(token_store_test, backup_api_token_is_client_default_with_every_scope) {
  const auto store = token_store::load("seed-token-1", std::nullopt);
  EXPECT_EQ(store.size(), 1u);
  const auto who = store.authenticate("Bearer seed-token-1");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->client, "default");
  EXPECT_EQ(who->scopes, every);
  EXPECT_EQ(store.authenticate("Bearer seed-token-2"), std::nullopt);
}

TEST_F(token_file_test, plain_tokens_resolve_to_their_clients) {
  const auto store = load(
      "alice:upload:alice-token-0001\n"
      "bob:read,delete:bob-token-0002\n");
  EXPECT_EQ(store.size(), 2u);

  const auto alice = store.authenticate("Bearer alice-token-0001");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->client, "alice");
  EXPECT_EQ(alice->scopes, upload);

  const auto bob = store.authenticate("Bearer bob-token-0002");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->client, "bob");
  EXPECT_EQ(bob->scopes, read | del);
}

TEST_F(token_file_test, unknown_and_near_miss_tokens_are_rejected) {
  const auto store = load("alice:upload:alice-token-0001\n");
  for (std::string_view header :
       {"Bearer alice-token-000", "Bearer alice-token-00011", "Bearer ALICE-TOKEN-0001",
        "Bearer xalice-token-0001", "Bearer alice", "Bearer sha256:" /* prefix is not a token */}) {
    EXPECT_EQ(store.authenticate(header), std::nullopt) << header;
  }
}

TEST_F(token_file_test, sha256_tokens_match_the_token_they_hash) {
  const std::string hex = to_hex(sha256_of("hashed-secret-9"));
  const auto store = load("ci:upload,read:sha256:" + hex +
                          "\nops:admin:sha256:" + to_hex(sha256_of("ops-secret")) + "\n");
  const auto ci = store.authenticate("Bearer hashed-secret-9");
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->client, "ci");
  EXPECT_EQ(ci->scopes, upload | read);
  // The hash itself is not a password.
  EXPECT_EQ(store.authenticate("Bearer " + hex), std::nullopt);
  EXPECT_EQ(store.authenticate("Bearer sha256:" + hex), std::nullopt);

  const auto ops = store.authenticate("Bearer ops-secret");
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(ops->client, "ops");
}

TEST_F(token_file_test, sha256_hex_may_be_uppercase) {
  std::string hex = to_hex(sha256_of("upper-secret"));
  for (auto& c : hex)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto store = load("u:read:sha256:" + hex + "\n");
  const auto who = store.authenticate("Bearer upper-secret");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->client, "u");
}

TEST_F(token_file_test, token_may_contain_colons) {
  const auto store = load("carol:admin:abc:def::ghi\n");
  const auto who = store.authenticate("Bearer abc:def::ghi");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->client, "carol");
  EXPECT_EQ(who->scopes, admin);
  EXPECT_EQ(store.authenticate("Bearer abc"), std::nullopt);
  EXPECT_EQ(store.authenticate("Bearer ghi"), std::nullopt);
}

TEST_F(token_file_test, skips_comments_and_blank_lines_and_trims_fields) {
  const auto store = load(
      "# API tokens\n"
      "\n"
      "   \n"
      "  # indented comment: x:upload:not-a-token\n"
      " alice : upload , read : alice-token-0001 \r\n"
      "bob:delete:#not-a-comment\r\n"
      "\n");
  EXPECT_EQ(store.size(), 2u);
  const auto alice = store.authenticate("Bearer alice-token-0001");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->client, "alice");
  EXPECT_EQ(alice->scopes, upload | read);
  const auto bob = store.authenticate("Bearer #not-a-comment");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->client, "bob");
  EXPECT_EQ(store.authenticate("Bearer not-a-token"), std::nullopt);
}

TEST_F(token_file_test, an_empty_file_gives_an_empty_store) {
  EXPECT_TRUE(load("").empty());
  EXPECT_TRUE(load("# nothing yet\n\n").empty());
}

TEST_F(token_file_test, backup_api_token_and_file_combine) {
  const auto store = load("alice:upload:alice-token-0001\n", "seed-token-1");
  EXPECT_EQ(store.size(), 2u);
  const auto seed = store.authenticate("Bearer seed-token-1");
  ASSERT_TRUE(seed.has_value());
  EXPECT_EQ(seed->client, "default");
  EXPECT_EQ(seed->scopes, every);
  const auto alice = store.authenticate("Bearer alice-token-0001");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->client, "alice");
}

TEST_F(token_file_test, malformed_lines_name_file_and_line_but_never_the_token) {
  constexpr std::string_view secret = "S3cr3tT0ken";
  const std::string prefix = "# header\n\ngood:read:good-token-0001\n";  // bad line is line 4
  const std::string s(secret);
  for (const std::string& line : std::vector<std::string>{
           s,                                              // no colons
           "alice:" + s,                                   // one colon
           "alice:upload,write:" + s,                      // unknown scope
           "alice::" + s,                                  // no scopes
           "alice:,:" + s,                                 // empty scopes
           "al ice:upload:" + s,                           // unsafe client
           "../etc:upload:" + s,                           // unsafe client
           ":upload:" + s,                                 // no client
           s + ":with:colons",                             // token in the wrong place
           "alice:upload:",                                // no token
           "alice:upload:   ",                             // blank token
           "alice:upload:sha256:" + std::string(63, 'b'),  // short hash
           "alice:upload:sha256:" + std::string(64, 'g'),  // not hex
           "alice:upload:sha256:" + std::string(65, 'c'),  // long hash
       }) {
    const std::string message = load_error(prefix + line + "\n# after\n");
    EXPECT_TRUE(contains(message, file_.string() + ":4:")) << message;
    EXPECT_FALSE(contains(message, secret)) << message;
    EXPECT_FALSE(contains(message, "bbbbbbbb")) << message;
    EXPECT_FALSE(contains(message, "gggggggg")) << message;
    EXPECT_FALSE(contains(message, "cccccccc")) << message;
    EXPECT_FALSE(contains(message, "good-token")) << message;
    EXPECT_FALSE(contains(message, "\n")) << message;
  }
}

TEST_F(token_file_test, messages_say_what_is_wrong) {
  EXPECT_EQ(load_error("x\n"), file_.string() + ":1: expected client:scopes:token");
  EXPECT_EQ(
      load_error("a:write:t\n"),
      file_.string() + ":1: invalid scope list (comma-separated upload, read, delete, admin)");
  EXPECT_EQ(load_error("\na b:read:t\n"),
            file_.string() + ":2: invalid client name (letters, digits, '.', '_' and '-')");
  EXPECT_EQ(load_error("a:read:\n"), file_.string() + ":1: empty token");
  EXPECT_EQ(load_error("a:read:sha256:12\n"),
            file_.string() + ":1: a sha256: token needs exactly 64 hex digits");
}

TEST_F(token_file_test, the_same_client_twice_is_an_error) {
  const std::string message = load_error(
      "alice:upload:alice-token-0001\n"
      "bob:read:bob-token-0002\n"
      "alice:read:other-alice-token\n");
  EXPECT_EQ(message, file_.string() + ":3: client alice is listed twice");
}

TEST_F(token_file_test, the_same_token_twice_is_an_error) {
  EXPECT_EQ(load_error("alice:upload:shared-token-1\n"
                       "bob:read:shared-token-1\n"),
            file_.string() + ":2: the same token as " + file_.string() + ":1");
  // Plain on one line and hashed on another is still the same token.
  EXPECT_EQ(load_error("alice:upload:shared-token-1\n"
                       "bob:read:sha256:" +
                       to_hex(sha256_of("shared-token-1")) + "\n"),
            file_.string() + ":2: the same token as " + file_.string() + ":1");
  EXPECT_EQ(load_error("alice:upload:seed-token-1\n", "seed-token-1"),
            file_.string() + ":1: the same token as BACKUP_API_TOKEN");
}

TEST(token_store_test, an_unreadable_file_is_a_config_error) {
  test::temp_dir dir{"pgship-auth-test"};
  const auto missing = dir / "missing";
  try {
    token_store::load("", missing);
    FAIL() << "no error";
  } catch (const config::config_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read API_TOKENS_FILE " + missing.string() + ": No such file or directory");
  }
  try {
    token_store::load("", dir.path());
    FAIL() << "no error for a directory";
  } catch (const config::config_error& e) {
    EXPECT_TRUE(contains(e.what(), dir.path().string())) << e.what();
  }
}

// --- Authorization header ---------------------------------------------------------------------

TEST(token_store_test, bearer_scheme_is_case_insensitive_and_spacing_is_lenient) {
  const auto store = token_store::load("tok-123", std::nullopt);
  for (std::string_view header :
       {"Bearer tok-123", "bearer tok-123", "BEARER tok-123", "bEaReR tok-123", "Bearer    tok-123",
        "Bearer\ttok-123", "  Bearer tok-123  ", "Bearer tok-123\r\n"}) {
    const auto who = store.authenticate(header);
    ASSERT_TRUE(who.has_value()) << '"' << header << '"';
    EXPECT_EQ(who->client, "default");
  }
}

TEST(token_store_test, malformed_authorization_headers_are_rejected) {
  const auto store = token_store::load("tok-123", std::nullopt);
  for (std::string_view header :
       {"", " ", "Bearer", "Bearer ", "Bearer    ", "tok-123", "Bearertok-123", "Basic tok-123",
        "Basic dG9rLTEyMw==", "Token tok-123", "Bearer tok-123 extra", "Bearer tok -123",
        "Bearer: tok-123", "Bearer\ntok-123x"}) {
    EXPECT_EQ(store.authenticate(header), std::nullopt) << '"' << header << '"';
  }
}

}  // namespace
}  // namespace pgship::receiver

#include <string>

#include <gtest/gtest.h>

#include <pgship/common/redact_url.hpp>

namespace pgship {
namespace {

TEST(redact_url_test, the_password_of_a_url_is_redacted) {
  EXPECT_EQ(redact_url("http://user:secret@host:9101"), "http://user:<redacted>@host:9101");
  EXPECT_EQ(redact_url("https://u:p@backup.example/base/?x=1"),
            "https://u:<redacted>@backup.example/base/?x=1");
  // RFC 3986 lets a password hold sub-delimiters, and a sloppy one an '@'.
  EXPECT_EQ(redact_url("http://u:a,b)c'd@e@host"), "http://u:<redacted>@host");
  EXPECT_EQ(redact_url("http://u:@host"), "http://u:<redacted>@host");
}

TEST(redact_url_test, a_user_only_userinfo_is_redacted_whole) {
  EXPECT_EQ(redact_url("https://ghp_token@hooks.example/x"), "https://<redacted>@hooks.example/x");
}

TEST(redact_url_test, a_url_without_userinfo_is_kept) {
  EXPECT_EQ(redact_url("http://host:9101"), "http://host:9101");
  EXPECT_EQ(redact_url("http://host/path?mail=a@b"), "http://host/path?mail=a@b");
  EXPECT_EQ(redact_url(""), "");
}

TEST(redact_url_test, redacting_twice_changes_nothing) {
  for (const char* url : {"http://user:secret@host:9101", "https://token@host", "http://host"}) {
    const std::string once = redact_url(url);
    EXPECT_EQ(redact_url(once), once) << url;
  }
}

// A configured value is one URL: a password with characters a URL may not hold raw (an invalid
// URL, which is exactly when it ends up in an error message) is still hidden whole.
TEST(redact_url_test, a_configured_value_hides_its_whole_userinfo) {
  EXPECT_EQ(redact_url("http://u:pa ss@host:1"), "http://u:<redacted>@host:1");
  EXPECT_EQ(redact_url("http://u:p/w\"x<y@host/p?q=a@b"), "http://u:<redacted>@host/p?q=a@b");
  EXPECT_EQ(redact_url("https://tok@host"), "https://<redacted>@host");
  EXPECT_EQ(redact_url("http://host:9101/base"), "http://host:9101/base");
  EXPECT_EQ(redact_url("not a url"), "not a url");
  for (const char* v : {"http://u:pa ss@host:1", "https://tok@host", "http://host"}) {
    const auto once = redact_url(v);
    EXPECT_EQ(redact_url(once), once) << v;
  }
}

}  // namespace
}  // namespace pgship

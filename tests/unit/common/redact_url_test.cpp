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

TEST(redact_url_test, urls_inside_text_are_redacted_and_the_rest_is_kept) {
  EXPECT_EQ(redact_url("BACKUP_API_URL=\"http://a:b@h:1\" is invalid; see http://c:d@e/f g"),
            "BACKUP_API_URL=\"http://a:<redacted>@h:1\" is invalid; see http://c:<redacted>@e/f g");
  EXPECT_EQ(redact_url("receiver http://host:9101 is down"), "receiver http://host:9101 is down");
  EXPECT_EQ(redact_url("mail user@example.com, no url"), "mail user@example.com, no url");
  EXPECT_EQ(redact_url("http://host/path@not-userinfo"), "http://host/path@not-userinfo");
  EXPECT_EQ(redact_url(""), "");
}

TEST(redact_url_test, redacting_twice_changes_nothing) {
  for (const char* url : {"http://user:secret@host:9101", "https://token@host", "http://host"}) {
    const std::string once = redact_url(url);
    EXPECT_EQ(redact_url(once), once) << url;
  }
}

}  // namespace
}  // namespace pgship

// whoami_of: which reason wins, and that the reply carries what the agent logs.

#include "api/whoami_route.hpp"

#include <gtest/gtest.h>

namespace pgship::receiver {
namespace {

constexpr std::uint8_t upload = static_cast<std::uint8_t>(scope::upload);
constexpr std::uint8_t read = static_cast<std::uint8_t>(scope::read);
constexpr std::uint8_t admin = static_cast<std::uint8_t>(scope::admin);

storage_state fine() {
  storage_state s;
  s.free_bytes = 5'000'000'000;
  return s;
}

TEST(WhoamiOf, AnUploadTokenWithRoomCanUpload) {
  const auto r = whoami_of({"app1", upload | read}, fine(), 1000);
  EXPECT_EQ(r.client, "app1");
  EXPECT_EQ(r.scopes, (std::vector<std::string>{"upload", "read"}));
  EXPECT_TRUE(r.can_upload);
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.free_bytes, std::optional<std::uint64_t>(5'000'000'000));
  EXPECT_EQ(r.quota_left_bytes, std::optional<std::uint64_t>(1000));
}

TEST(WhoamiOf, ScopeComesFirstThenStorageThenSpaceThenQuota) {
  auto broken = fine();
  broken.not_writable = "storage directory is not writable";
  broken.low_space = "free space 1 bytes is below MIN_FREE_BYTES (2)";
  EXPECT_EQ(whoami_of({"r", read}, broken, 0).reason, "this token has no upload scope");
  EXPECT_EQ(whoami_of({"a", upload}, broken, 0).reason, "storage directory is not writable");
  broken.not_writable.clear();
  EXPECT_EQ(whoami_of({"a", upload}, broken, 0).reason,
            "free space 1 bytes is below MIN_FREE_BYTES (2)");
  const auto q = whoami_of({"a", upload}, fine(), 0);
  EXPECT_FALSE(q.can_upload);
  EXPECT_EQ(q.reason, "client a has used up its QUOTA_BYTES");
  EXPECT_TRUE(whoami_of({"a", upload}, fine(), std::nullopt).can_upload) << "no QUOTA_BYTES";
}

TEST(WhoamiOf, AdminImpliesUploadAndListsAsConfigured) {
  const auto r = whoami_of({"ops", admin}, fine(), std::nullopt);
  EXPECT_EQ(r.scopes, std::vector<std::string>{"admin"});
  EXPECT_TRUE(r.can_upload);
}

}  // namespace
}  // namespace pgship::receiver

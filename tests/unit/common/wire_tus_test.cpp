#include <gtest/gtest.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/wire/tus.hpp>

namespace pgship::wire::tus {
namespace {

TEST(WireTus, MetadataIsFilenameThenSha256) {
  const std::string sha(64, 'f');
  EXPECT_EQ(encode_metadata("app-20261121-030000.dump", std::nullopt),
            "filename " + base64_encode("app-20261121-030000.dump"));
  EXPECT_EQ(
      encode_metadata("app-20261121-030000.dump", sha),
      "filename " + base64_encode("app-20261121-030000.dump") + ",sha256 " + base64_encode(sha));
}

// What deployed agents and receivers send each other: a change here is a protocol change.
TEST(WireTus, KeepsTheProtocolsSpelling) {
  EXPECT_EQ(version, "1.0.0");
  EXPECT_EQ(extensions, "creation,creation-defer-length,checksum,termination,expiration");
  EXPECT_EQ(checksum_mismatch_status, 460u);
  EXPECT_EQ(header::resumable, "Tus-Resumable");
  EXPECT_EQ(header::upload_offset, "Upload-Offset");
  EXPECT_EQ(header::upload_defer_length, "Upload-Defer-Length");
}

}  // namespace
}  // namespace pgship::wire::tus

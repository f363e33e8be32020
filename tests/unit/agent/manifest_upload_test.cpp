#include "pipeline/manifest_upload.hpp"

#include <gtest/gtest.h>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/age_filters.hpp>

namespace pgship::agent {
namespace {

manifest sample() {
  manifest m;
  m.name = "sales-20261121-030000.dump.zst.age";
  m.database = "sales";
  m.size = 4242;
  m.sha256 = std::string(64, 'a');
  m.row_counts = "exact";
  m.tables = {{"public", "trades", 1500}};
  return m;
}

TEST(SealManifest, APlainBackupsManifestIsItsJson) {
  auto m = sample();
  m.name = "sales-20261121-030000.dump";
  const auto sealed = seal_manifest(m);
  ASSERT_FALSE(sealed.error) << sealed.error.message;
  EXPECT_EQ(sealed.name, "sales-20261121-030000.dump.manifest.json");
  EXPECT_EQ(sealed.bytes, to_json(m));
}

TEST(SealManifest, AnEncryptedBackupsManifestIsEncryptedToEachOfItsRecipients) {
  const auto alice = age::generate_identity(), bob = age::generate_identity();
  auto m = sample();
  m.encryption_recipients = {age::encode_recipient(alice.public_key),
                             age::encode_recipient(bob.public_key)};
  const auto sealed = seal_manifest(m);
  ASSERT_FALSE(sealed.error) << sealed.error.message;
  EXPECT_EQ(sealed.name, "sales-20261121-030000.dump.zst.age.manifest.json.age");
  EXPECT_TRUE(io::starts_like_age(sealed.bytes));
  EXPECT_EQ(sealed.bytes.find("trades"), std::string::npos) << "the table names are not readable";
  for (const auto& who : {alice, bob}) {
    io::buffer_sink plain;
    io::age_decryptor decryptor(plain, io::age_secrets{{who}, {}, 22});
    ASSERT_FALSE(decryptor.write(sealed.bytes));
    ASSERT_FALSE(decryptor.finish()) << decryptor.problem();
    EXPECT_EQ(plain.text(), to_json(m));
  }
  // A stranger reads nothing.
  io::buffer_sink plain;
  io::age_decryptor stranger(plain, io::age_secrets{{age::generate_identity()}, {}, 22});
  auto ec = stranger.write(sealed.bytes);
  if (!ec) ec = stranger.finish();
  EXPECT_TRUE(ec);
  EXPECT_TRUE(plain.text().empty());
}

TEST(SealManifest, ARecipientThatDoesNotParseIsAnErrorNotAPlainManifest) {
  auto m = sample();
  m.encryption_recipients = {"age1notarecipient"};
  const auto sealed = seal_manifest(m);
  EXPECT_EQ(sealed.error.code, errc::config_invalid);
  EXPECT_NE(sealed.error.message.find(m.name), std::string::npos) << sealed.error.message;
  EXPECT_TRUE(sealed.bytes.empty());
}

}  // namespace
}  // namespace pgship::agent

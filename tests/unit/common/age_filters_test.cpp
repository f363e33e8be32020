// The age filters as the chain uses them: what the encryptor writes decrypts to the same bytes
// for every recipient and every way the bytes arrive; each damage to a file (a cut, a flipped
// byte in any chunk, a changed header) is its own error and releases no unauthenticated byte.

#include <gtest/gtest.h>

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/filters.hpp>

#include "temp_dir.hpp"

namespace pgship::io {
namespace {

constexpr std::size_t chunk = 64 * 1024;

std::error_code feed(sink& s, const std::string& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    if (auto ec = s.write({data.data() + at, std::min(piece, data.size() - at)})) return ec;
  }
  return s.finish();
}

std::string encrypt(const std::string& plain, const std::vector<age::recipient>& to,
                    std::size_t piece = 10000) {
  buffer_sink out;
  age_encryptor enc(out, to);
  EXPECT_FALSE(feed(enc, plain, piece));
  EXPECT_TRUE(out.finished());
  return out.text();
}

struct decrypted {
  std::error_code ec;
  std::string plain;
  std::string problem;
};

decrypted decrypt(const std::string& file, age_secrets secrets, std::size_t piece = 7777) {
  buffer_sink out;
  age_decryptor dec(out, std::move(secrets));
  decrypted d;
  d.ec = feed(dec, file, piece);
  d.plain = out.text();
  d.problem = dec.problem();
  return d;
}

age::recipient recipient_of(const age::identity& id) {
  return age::parse_recipient(age::encode_recipient(id.public_key));
}

class AgeFilters : public ::testing::Test {
 protected:
  age::identity alice = age::generate_identity();
  age::identity bob = age::generate_identity();
  std::vector<age::recipient> both{recipient_of(alice), recipient_of(bob)};
  age_secrets as_alice{{alice}, {}, 22};
  age_secrets as_bob{{bob}, {}, 22};
};

TEST_F(AgeFilters, RoundTripsEverySizeAroundTheChunkBoundaryToEachRecipient) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, chunk - 1, chunk, chunk + 1,
                                 2 * chunk, 3 * chunk + 12345}) {
    const auto plain = test::random_bytes(size, static_cast<std::uint32_t>(size));
    for (const std::size_t piece : {std::size_t{1000}, chunk, std::size_t{3 * chunk}}) {
      const auto file = encrypt(plain, both, piece);
      // Header, nonce, one tag per chunk (an empty payload is one empty chunk).
      const auto chunks = size == 0 ? 1 : (size + chunk - 1) / chunk;
      EXPECT_GT(file.size(), size + 16 * chunks + 16);
      EXPECT_TRUE(starts_like_age({file.data(), file.size()}));
      for (const auto& who : {as_alice, as_bob}) {
        const auto d = decrypt(file, who, 4099);
        ASSERT_FALSE(d.ec) << size << ": " << d.problem;
        EXPECT_EQ(d.plain, plain) << size;
      }
    }
  }
}

TEST_F(AgeFilters, EachFileHasItsOwnKeyAndNonce) {
  const std::string plain(1000, 'x');
  const auto a = encrypt(plain, both);
  const auto b = encrypt(plain, both);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find(plain.substr(0, 32)), std::string::npos);
}

TEST_F(AgeFilters, NoIdentityAndTheWrongIdentityAreRefusedBeforeAnyPlaintext) {
  const auto file = encrypt(test::random_bytes(200000, 1), {recipient_of(alice)});
  const auto none = decrypt(file, {});
  EXPECT_EQ(none.ec, age::errc::no_identity);
  const auto wrong = decrypt(file, as_bob);
  EXPECT_EQ(wrong.ec, age::errc::no_match) << wrong.problem;
  EXPECT_TRUE(wrong.plain.empty());
  const auto pass = decrypt(file, age_secrets{{}, {"a guess"}, 22});
  EXPECT_EQ(pass.ec, age::errc::no_match);
}

TEST_F(AgeFilters, ACutAtAChunkBoundaryIsCaughtByTheLastChunkFlag) {
  const auto plain = test::random_bytes(3 * chunk + 100, 2);
  const auto file = encrypt(plain, both);
  const auto payload_start = file.size() - (plain.size() + 4 * 16);
  // Cut after two whole sealed chunks: every byte left authenticates, but none is final.
  const auto cut = file.substr(0, payload_start + 2 * (chunk + 16));
  const auto d = decrypt(cut, as_alice);
  EXPECT_EQ(d.ec, age::errc::truncated) << d.problem;
  EXPECT_EQ(d.plain, plain.substr(0, d.plain.size()));
  EXPECT_LT(d.plain.size(), plain.size());
  // Cut inside a chunk: that chunk does not authenticate.
  const auto mid = decrypt(file.substr(0, file.size() - 50), as_alice);
  EXPECT_EQ(mid.ec, age::errc::chunk_corrupt) << mid.problem;
  EXPECT_EQ(mid.plain, plain.substr(0, 3 * chunk));
  // Cut inside the header or the nonce.
  EXPECT_EQ(decrypt(file.substr(0, 30), as_alice).ec, age::errc::header_invalid);
  EXPECT_EQ(decrypt(file.substr(0, payload_start - 5), as_alice).ec, age::errc::header_invalid);
}

TEST_F(AgeFilters, AFlippedByteInAnyChunkStopsAtThatChunk) {
  const auto plain = test::random_bytes(4 * chunk + 1, 3);
  const auto file = encrypt(plain, both);
  const auto payload_start = file.size() - (plain.size() + 5 * 16);
  for (std::size_t c = 0; c < 5; ++c) {
    auto bad = file;
    bad[payload_start + c * (chunk + 16) + (c == 4 ? 0 : 1000)] ^= 0x01;
    const auto d = decrypt(bad, as_alice);
    EXPECT_EQ(d.ec, age::errc::chunk_corrupt) << c << ": " << d.problem;
    EXPECT_NE(d.problem.find("chunk " + std::to_string(c)), std::string::npos) << d.problem;
    // Only the chunks before it were released.
    EXPECT_EQ(d.plain, plain.substr(0, c * chunk)) << c;
  }
}

TEST_F(AgeFilters, ATamperedHeaderFailsItsMacOrItsParse) {
  const auto file = encrypt(test::random_bytes(1000, 4), both);
  // Drop bob's stanza: still parses, alice still unwraps, but the MAC covers the stanzas.
  const auto second = file.find("-> X25519", 10);
  const auto third = file.find("-> X25519", second + 1);
  auto without_bob = file.substr(0, third) + file.substr(file.find("---"));
  const auto d = decrypt(without_bob, as_alice);
  EXPECT_EQ(d.ec, age::errc::mac_mismatch) << d.problem;
  EXPECT_TRUE(d.plain.empty());
  // A changed MAC.
  auto bad_mac = file;
  const auto mac = bad_mac.find("--- ") + 4;
  bad_mac[mac] = bad_mac[mac] == 'A' ? 'B' : 'A';
  EXPECT_EQ(decrypt(bad_mac, as_alice).ec, age::errc::mac_mismatch);
  // A version this implementation does not know, and a file that is not age at all.
  auto v2 = file;
  v2[20] = '2';
  EXPECT_EQ(decrypt(v2, as_alice).ec, age::errc::unsupported_version);
  EXPECT_EQ(decrypt("PGDMP\x01\x0e", as_alice).ec, age::errc::not_age);
}

TEST_F(AgeFilters, AFailedStreamStaysFailed) {
  buffer_sink out;
  age_decryptor dec(out, as_bob);
  const auto file = encrypt("secret", {recipient_of(alice)});
  EXPECT_EQ(dec.write({file.data(), file.size()}), age::errc::no_match);
  EXPECT_EQ(dec.write({file.data(), 1}), age::errc::no_match);
  EXPECT_EQ(dec.finish(), age::errc::no_match);
  EXPECT_FALSE(out.finished());
}

// A stage after the filter that fails (a full disk) fails the filter for good.
class failing_sink final : public sink {
 public:
  std::error_code write(std::span<const char>) override {
    return std::make_error_code(std::errc::no_space_on_device);
  }
  std::error_code finish() override { return {}; }
};

TEST_F(AgeFilters, AFailureAfterTheFilterStaysAFailure) {
  failing_sink full;
  age_encryptor enc(full, both);
  EXPECT_EQ(enc.write({"x", 1}), std::errc::no_space_on_device);
  EXPECT_EQ(enc.write({"x", 1}), std::errc::no_space_on_device);
  EXPECT_EQ(enc.finish(), std::errc::no_space_on_device);

  const auto file = encrypt(test::random_bytes(3 * chunk, 5), both);
  age_decryptor dec(full, as_alice);
  EXPECT_EQ(dec.write({file.data(), file.size()}), std::errc::no_space_on_device);
  EXPECT_EQ(dec.finish(), std::errc::no_space_on_device);
  EXPECT_EQ(dec.released(), 0u);
}

TEST(AgeKeys, RecipientListsAndFilesRefuseWhatIsNotAnX25519Key) {
  const auto id = age::generate_identity();
  const auto text = age::encode_recipient(id.public_key);
  const auto list = age::parse_recipient_list(" " + text + " , " + text);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].public_key, id.public_key);
  const auto file = age::parse_recipients_file("# drill host\n" + text + "\n\n# offline\n" + text);
  EXPECT_EQ(file.size(), 2u);
  auto typo = text;
  typo[10] = typo[10] == 'q' ? 'p' : 'q';
  EXPECT_THROW(age::parse_recipient(typo), std::invalid_argument);
  EXPECT_THROW(age::parse_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
               std::invalid_argument);
  try {
    age::parse_recipients_file(text + "\nnot-a-key\n");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  // An identity file's errors never repeat the line, which may be a key with a typo.
  auto secret = age::encode_identity(id);
  secret[20] = secret[20] == 'Q' ? 'P' : 'Q';
  try {
    age::parse_identities_file(secret);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find(secret.substr(15)), std::string::npos) << e.what();
  }
  EXPECT_THROW(age::parse_identities_file("# only a comment\n"), std::invalid_argument);
  // age itself refuses upper-case recipients.
  auto upper = text;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_THROW(age::parse_recipient(upper), std::invalid_argument);
  // A secret key pasted as a recipient is refused without being repeated.
  const auto key = age::encode_identity(id);
  try {
    age::parse_recipient_list(key);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find(key.substr(16, 20)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgship::io

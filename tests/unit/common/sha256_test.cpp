#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "temp_dir.hpp"

namespace pgship {
namespace {

using pgship::test::random_bytes;
using pgship::test::temp_dir;
using pgship::test::write_file;

constexpr std::string_view empty_hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view abc_hex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view two_block_input =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view two_block_hex =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view million_a_hex =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

// --- known answers (FIPS 180-2 appendix B) ----------------------------------------------------

TEST(sha256_test, empty_input) {
  EXPECT_EQ(to_hex(sha256_of("")), empty_hex);
}

TEST(sha256_test, abc) {
  EXPECT_EQ(to_hex(sha256_of("abc")), abc_hex);
}

TEST(sha256_test, two_block_message) {
  ASSERT_EQ(two_block_input.size() * 8, 448u);
  EXPECT_EQ(to_hex(sha256_of(two_block_input)), two_block_hex);
}

TEST(sha256_test, one_million_a) {
  EXPECT_EQ(to_hex(sha256_of(std::string(1'000'000, 'a'))), million_a_hex);

  // The same, fed 1000 bytes at a time.
  sha256 h;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i)
    h.update(thousand);
  EXPECT_EQ(h.bytes(), 1'000'000u);
  EXPECT_EQ(to_hex(h.finish()), million_a_hex);
}

TEST(sha256_test, a_fresh_hasher_gives_the_empty_digest) {
  sha256 h;
  EXPECT_EQ(h.bytes(), 0u);
  EXPECT_EQ(to_hex(h.finish()), empty_hex);
}

// --- streaming --------------------------------------------------------------------------------

class sha256_chunk_test : public ::testing::TestWithParam<std::size_t> {};

TEST_P(sha256_chunk_test, streaming_equals_one_shot) {
  const std::string data = random_bytes((1u << 20) + 13, 20260101);
  const sha256_digest expected = sha256_of(data);
  const std::size_t chunk = GetParam();

  sha256 h;
  std::size_t offset = 0;
  int turn = 0;
  while (offset < data.size()) {
    const std::size_t n = std::min(chunk, data.size() - offset);
    // Exercise all three update() overloads.
    switch (turn++ % 3) {
      case 0:
        h.update(std::string_view(data).substr(offset, n));
        break;
      case 1:
        h.update(std::as_bytes(std::span(data.data() + offset, n)));
        break;
      default:
        h.update(data.data() + offset, n);
        break;
    }
    offset += n;
  }
  EXPECT_EQ(h.bytes(), data.size());
  EXPECT_EQ(h.finish(), expected);
}

INSTANTIATE_TEST_SUITE_P(odd_chunk_sizes, sha256_chunk_test,
                         ::testing::Values(1, 7, 63, 64, 65, 4097));

TEST(sha256_test, empty_updates_change_nothing) {
  sha256 h;
  h.update("");
  h.update(nullptr, 0);
  h.update(std::span<const std::byte>{});
  h.update("abc");
  h.update("");
  EXPECT_EQ(h.bytes(), 3u);
  EXPECT_EQ(to_hex(h.finish()), abc_hex);
}

TEST(sha256_test, finish_resets_the_hasher) {
  sha256 h;
  h.update("some earlier stream");
  EXPECT_EQ(h.bytes(), 19u);
  h.finish();
  EXPECT_EQ(h.bytes(), 0u);
  EXPECT_EQ(to_hex(h.finish()), empty_hex);

  h.update("ab");
  h.update("c");
  EXPECT_EQ(h.bytes(), 3u);
  EXPECT_EQ(to_hex(h.finish()), abc_hex);
  EXPECT_EQ(h.bytes(), 0u);

  h.update("abc");
  EXPECT_EQ(to_hex(h.finish()), abc_hex);
}

TEST(sha256_test, bytes_counts_everything_fed) {
  sha256 h;
  h.update(std::string(10, 'x'));
  h.update(std::string(4096, 'y'));
  h.update("z", 1);
  EXPECT_EQ(h.bytes(), 4107u);
}

TEST(sha256_test, moved_hasher_keeps_its_state) {
  sha256 a;
  a.update("ab");
  sha256 b(std::move(a));
  b.update("c");
  EXPECT_EQ(b.bytes(), 3u);
  EXPECT_EQ(to_hex(b.finish()), abc_hex);

  sha256 c;
  c.update("a");
  c = std::move(b);
  c.update("abc");
  EXPECT_EQ(to_hex(c.finish()), abc_hex);
}

// --- hex --------------------------------------------------------------------------------------

TEST(sha256_hex_test, to_hex_is_lowercase_and_64_digits) {
  sha256_digest d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(i * 8 + 7);
  EXPECT_EQ(to_hex(d), "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
  EXPECT_EQ(to_hex(sha256_digest{}), std::string(64, '0'));
}

TEST(sha256_hex_test, round_trip) {
  const sha256_digest d = sha256_of("abc");
  EXPECT_EQ(digest_from_hex(to_hex(d)), std::optional(d));
  EXPECT_EQ(digest_from_hex(abc_hex), std::optional(d));
  const sha256_digest r = sha256_of(random_bytes(100, 7));
  EXPECT_EQ(digest_from_hex(to_hex(r)), std::optional(r));
}

TEST(sha256_hex_test, uppercase_is_accepted) {
  EXPECT_EQ(digest_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
            std::optional(sha256_of("abc")));
  EXPECT_EQ(digest_from_hex("Ba7816bF8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aD"),
            std::optional(sha256_of("abc")));
}

TEST(sha256_hex_test, rejects_wrong_length_and_non_hex) {
  const std::string good(abc_hex);
  EXPECT_EQ(digest_from_hex(""), std::nullopt);
  EXPECT_EQ(digest_from_hex(good.substr(0, 63)), std::nullopt);
  EXPECT_EQ(digest_from_hex(good + "0"), std::nullopt);
  EXPECT_EQ(digest_from_hex(good.substr(0, 62)), std::nullopt);
  for (char bad : {'g', 'G', 'z', ' ', '-', 'x', '\0', '\n'}) {
    for (std::size_t pos : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
      std::string hex = good;
      hex[pos] = bad;
      EXPECT_EQ(digest_from_hex(hex), std::nullopt) << "char " << int{bad} << " at " << pos;
    }
  }
  EXPECT_EQ(digest_from_hex(" " + good.substr(1)), std::nullopt);
}

// --- base64 -----------------------------------------------------------------------------------

TEST(sha256_base64_test, known_values) {
  EXPECT_EQ(to_base64(sha256_of("")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(to_base64(sha256_of("abc")), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST(sha256_base64_test, round_trip) {
  for (std::uint32_t seed = 0; seed < 50; ++seed) {
    const sha256_digest d = sha256_of(random_bytes(seed, seed));
    const std::string b64 = to_base64(d);
    ASSERT_EQ(b64.size(), 44u);
    EXPECT_EQ(digest_from_base64(b64), std::optional(d)) << b64;
  }
  EXPECT_EQ(digest_from_base64("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
            std::optional(sha256_of("abc")));
}

TEST(sha256_base64_test, rejects_malformed_input) {
  const std::string good = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
  EXPECT_EQ(digest_from_base64(""), std::nullopt);
  EXPECT_EQ(digest_from_base64(good.substr(0, 43)), std::nullopt);         // padding dropped
  EXPECT_EQ(digest_from_base64(good + "="), std::nullopt);                 // too long
  EXPECT_EQ(digest_from_base64(good.substr(0, 42) + "=="), std::nullopt);  // 31 bytes
  EXPECT_EQ(digest_from_base64(good.substr(0, 43) + "A"), std::nullopt);   // no padding: 33 bytes
  EXPECT_EQ(digest_from_base64(good.substr(0, 40) + "!" + good.substr(41)), std::nullopt);
  EXPECT_EQ(digest_from_base64(" " + good.substr(1)), std::nullopt);
  EXPECT_EQ(digest_from_base64(good.substr(0, 20) + " " + good.substr(21)), std::nullopt);
  EXPECT_EQ(digest_from_base64(good.substr(0, 20) + "=" + good.substr(21)), std::nullopt);
  // Same digest bits, but the padding bits of the last character are set (not canonical).
  EXPECT_EQ(digest_from_base64(good.substr(0, 42) + "1="), std::nullopt);
  // URL-safe alphabet is not what tus uses.
  EXPECT_EQ(digest_from_base64("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="), std::nullopt);
  // Hex is not base64 either.
  EXPECT_EQ(digest_from_base64(std::string(abc_hex)), std::nullopt);
}

// --- files ------------------------------------------------------------------------------------

TEST(sha256_file_test, equals_hash_of_content) {
  temp_dir dir;
  // Larger than the 1 MiB read buffer so the file is hashed in several reads.
  const std::string content = random_bytes(3 * (1u << 20) + 5, 99);
  write_file(dir / "blob", content);
  std::error_code ec = std::make_error_code(std::errc::io_error);
  const auto digest = sha256_of_file(dir / "blob", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(digest, std::optional(sha256_of(content)));
}

TEST(sha256_file_test, small_and_empty_files) {
  temp_dir dir;
  write_file(dir / "abc", "abc");
  write_file(dir / "empty", "");
  std::error_code ec;
  EXPECT_EQ(sha256_of_file(dir / "abc", ec), digest_from_hex(abc_hex));
  EXPECT_FALSE(ec);
  EXPECT_EQ(sha256_of_file(dir / "empty", ec), digest_from_hex(empty_hex));
  EXPECT_FALSE(ec);
}

TEST(sha256_file_test, missing_file_sets_the_error_code) {
  temp_dir dir;
  std::error_code ec;
  EXPECT_EQ(sha256_of_file(dir / "missing", ec), std::nullopt);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST(sha256_file_test, directory_sets_the_error_code) {
  temp_dir dir;
  std::error_code ec;
  EXPECT_EQ(sha256_of_file(dir.path(), ec), std::nullopt);
  EXPECT_EQ(ec, std::errc::is_a_directory);
}

}  // namespace
}  // namespace pgship

#include <pgship/common/base64.hpp>

namespace pgship {
namespace {

TEST(base64_test, round_trips_and_matches_rfc4648_vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
  }
}

TEST(base64_test, rejects_malformed_text) {
  for (std::string_view bad : {"Zg", "Zg=", "Z===", "Zg==Zg==", "Z=g=", "Zm9v!A==", "===="}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pgship

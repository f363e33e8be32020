#pragma once
// age X25519 keys in their text forms (Bech32, BIP 173 without its length limit): recipients
// `age1…` and identities `AGE-SECRET-KEY-1…`, one per line in the files age reads, with `#`
// comments and blank lines.

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::age {

using key_bytes = std::array<unsigned char, 32>;

struct recipient {
  key_bytes public_key{};
  std::string text;  // age1…, as given
};

struct identity {
  key_bytes secret{};
  key_bytes public_key{};
};

/// Throws std::invalid_argument saying what is wrong (start-up configuration).
recipient parse_recipient(std::string_view text);
/// Recipients separated by commas (ENCRYPT_RECIPIENTS), or lines of a recipients file.
std::vector<recipient> parse_recipient_list(std::string_view text);
std::vector<recipient> parse_recipients_file(std::string_view text);
/// The identities of an identity file; throws std::invalid_argument (never echoing a key).
std::vector<identity> parse_identities_file(std::string_view text);

identity generate_identity();
std::string encode_recipient(const key_bytes& public_key);
std::string encode_identity(const identity& id);

namespace bech32 {
/// nullopt-like empty hrp on failure: `hrp` gets the lowercase human-readable part.
bool decode(std::string_view text, std::string& hrp, std::vector<unsigned char>& data);
std::string encode(std::string_view hrp, std::span<const unsigned char> data);
}  // namespace bech32

}  // namespace pgship::age

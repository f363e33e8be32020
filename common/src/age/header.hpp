#pragma once
// The age v1 header: its strict parse (the C2SP grammar, canonical base64 only) and how it is
// written. The stanzas' meaning (X25519, scrypt) is the filters' business.

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pgship::age::detail {

struct stanza {
  std::vector<std::string> args;  // args[0] is the type
  std::string body;               // decoded
};

struct header {
  std::vector<stanza> stanzas;
  std::string mac;             // decoded, 32 bytes
  std::size_t mac_input_size;  // bytes of the file up to and including "---"
  std::size_t size;            // bytes of the whole header, through the MAC line's LF
};

/// nullopt with `ec` clear: more bytes are needed. nullopt with `ec` set: not a valid header.
std::optional<header> parse_header(std::string_view bytes, std::error_code& ec);

/// The header's bytes up to and including "---" (what the MAC covers).
std::string format_stanzas(const std::vector<stanza>& stanzas);

std::string base64_raw(std::string_view bytes);
/// nullopt unless canonical, unpadded standard base64.
std::optional<std::string> unbase64_raw(std::string_view text);

}  // namespace pgship::age::detail

// The tus header values a client controls: Upload-Metadata (parse_upload_metadata), and the
// base64 / hex digests of Upload-Checksum and the sha256 metadata (base64_decode,
// digest_from_base64, digest_from_hex). Each input line is one header value.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <pgship/common/base64.hpp>
#include <pgship/common/sha256.hpp>

#include "ingest/tus/tus_store.hpp"

namespace {

void check_value(std::string_view value) {
  if (const auto meta = pgship::receiver::parse_upload_metadata(value)) {
    for (const auto& [key, decoded] : *meta) {
      if (key.empty() || key.find_first_of(" ,") != std::string::npos) __builtin_trap();
    }
  }

  if (const auto bytes = pgship::base64_decode(value)) {
    // Well-formed padded base64 only: re-encoding gives back as many characters.
    if (pgship::base64_encode(*bytes).size() != value.size()) __builtin_trap();
  }
  // Whatever the bytes, encoding then decoding gives them back.
  const auto again = pgship::base64_decode(pgship::base64_encode(value));
  if (!again || *again != value) __builtin_trap();

  if (const auto digest = pgship::digest_from_base64(value)) {
    if (pgship::to_base64(*digest) != value) __builtin_trap();  // canonical only
  }
  if (const auto digest = pgship::digest_from_hex(value)) {
    std::string lower(value);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (pgship::to_hex(*digest) != lower) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (true) {
    const auto newline = input.find('\n');
    check_value(input.substr(0, newline));
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return 0;
}

#pragma once
// The `<name>.sha256` side files, in the format `sha256sum` writes and `sha256sum -c` checks.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgship/common/sha256.hpp>

namespace pgship {

struct checksum_entry {
  sha256_digest digest{};
  std::string file_name;
};

/// "<hex>  <file name>\n" (text mode, two spaces), exactly as `sha256sum FILE` prints it.
std::string format_checksum_line(const sha256_digest& digest, std::string_view file_name);

/// Parses one line: GNU text ("<hex>  name") or binary ("<hex> *name") mode, or the BSD tag
/// form ("SHA256 (name) = <hex>"). Trailing "\n" or "\r\n" is accepted. nullopt otherwise.
std::optional<checksum_entry> parse_checksum_line(std::string_view line);

/// Parses a whole file's text; blank lines are skipped, any malformed line makes it nullopt.
std::optional<std::vector<checksum_entry>> parse_checksum_text(std::string_view text);

}  // namespace pgship

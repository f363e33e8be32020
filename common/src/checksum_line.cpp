#include <pgship/common/checksum_line.hpp>

namespace pgship {

std::string format_checksum_line(const sha256_digest& digest, std::string_view file_name) {
  return to_hex(digest) + "  " + std::string(file_name) + "\n";
}

std::optional<checksum_entry> parse_checksum_line(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);

  constexpr std::string_view tag = "SHA256 (";
  if (line.starts_with(tag)) {
    const auto close = line.rfind(") = ");
    if (close == std::string_view::npos || close < tag.size()) return std::nullopt;
    auto digest = digest_from_hex(line.substr(close + 4));
    std::string_view name = line.substr(tag.size(), close - tag.size());
    if (!digest || name.empty()) return std::nullopt;
    return checksum_entry{*digest, std::string(name)};
  }

  if (line.size() < 66) return std::nullopt;
  auto digest = digest_from_hex(line.substr(0, 64));
  if (!digest || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) return std::nullopt;
  const std::string_view name = line.substr(66);
  if (name.empty()) return std::nullopt;
  return checksum_entry{*digest, std::string(name)};
}

std::optional<std::vector<checksum_entry>> parse_checksum_text(std::string_view text) {
  std::vector<checksum_entry> out;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line == "\r") continue;
    auto entry = parse_checksum_line(line);
    if (!entry) return std::nullopt;
    out.push_back(std::move(*entry));
  }
  return out;
}

}  // namespace pgship

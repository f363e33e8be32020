#pragma once
// Cutting text to a byte limit without splitting a UTF-8 sequence.

#include <string>
#include <string_view>

namespace pgship {

/// At most `limit` bytes of `text`, ending before any sequence the limit would cut.
inline std::string utf8_prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return std::string(text.substr(0, end));
}

}  // namespace pgship

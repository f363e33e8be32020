#pragma once
// Standard base64 (RFC 4648, with padding), as tus Upload-Metadata and Upload-Checksum use it.

#include <optional>
#include <string>
#include <string_view>

namespace pgship {

std::string base64_encode(std::string_view bytes);
/// nullopt unless `text` is well-formed padded base64 (length a multiple of 4, '=' only at
/// the end).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pgship

#include <pgship/common/base64.hpp>
#include <pgship/common/wire/tus.hpp>

namespace pgship::wire::tus {

std::string encode_metadata(std::string_view filename, std::optional<std::string_view> sha256_hex) {
  std::string out(metadata::filename);
  out += ' ';
  out += base64_encode(filename);
  if (sha256_hex) {
    out += ',';
    out += metadata::sha256;
    out += ' ';
    out += base64_encode(*sha256_hex);
  }
  return out;
}

}  // namespace pgship::wire::tus

#include <openssl/evp.h>

#include <pgship/common/base64.hpp>

namespace pgship {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty()) return std::string{};
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.ends_with("==")) {
    pad = 2;
  } else if (text.ends_with("=")) {
    pad = 1;
  }
  if (text.substr(0, text.size() - pad).find('=') != std::string_view::npos) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  // EVP_DecodeBlock skips white space and '-' at either end, which is not base64: then it
  // decodes fewer than three bytes per four characters.
  if (n < 0 || static_cast<std::size_t>(n) != text.size() / 4 * 3) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

}  // namespace pgship

#pragma once
// Streaming SHA-256 on OpenSSL's EVP interface: feed any number of chunks of any size, then
// take the digest. Not thread-safe; one hasher per stream.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace pgship {

using sha256_digest = std::array<std::uint8_t, 32>;

class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(sha256&&) noexcept;
  sha256& operator=(sha256&&) noexcept;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  void update(const void* data, std::size_t size);

  /// An independent hasher in the same state (to roll back a chunk that turns out bad).
  sha256 clone() const;

  /// Ends the stream and returns the digest; the hasher starts over afterwards.
  sha256_digest finish();
  /// Bytes fed since construction or the last finish().
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct evp_ctx_deleter {
    void operator()(void* ctx) const noexcept;
  };
  std::unique_ptr<void, evp_ctx_deleter> ctx_;
  std::uint64_t bytes_ = 0;
};

/// Lowercase hex of a digest, or of any bytes (an MD5, an HMAC).
std::string to_hex(std::span<const unsigned char> bytes);
inline std::string to_hex(const sha256_digest& digest) {
  return to_hex(std::span<const unsigned char>(digest));
}
/// Parses 64 hex digits (either case); nullopt otherwise.
std::optional<sha256_digest> digest_from_hex(std::string_view hex);
/// Base64 of a digest, as tus Upload-Checksum carries it.
std::string to_base64(const sha256_digest& digest);
std::optional<sha256_digest> digest_from_base64(std::string_view b64);

/// One-shot helpers.
sha256_digest sha256_of(std::string_view data);
/// Hashes a file by streaming it in fixed-size chunks (memory stays flat).
std::optional<sha256_digest> sha256_of_file(const std::filesystem::path& path, std::error_code& ec);

}  // namespace pgship

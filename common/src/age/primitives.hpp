#pragma once
// The OpenSSL 3 primitives age composes, with the fixed sizes the format uses. Nothing here is
// our own cryptography: X25519 (RFC 7748), HKDF-SHA-256 (RFC 5869), HMAC-SHA-256,
// ChaCha20-Poly1305 (RFC 8439), scrypt (RFC 7914) and the CSPRNG are OpenSSL's.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pgship::age::detail {

using bytes32 = std::array<unsigned char, 32>;
using bytes16 = std::array<unsigned char, 16>;
using nonce12 = std::array<unsigned char, 12>;

inline constexpr std::size_t tag_size = 16;

/// Fills `out` from the CSPRNG; throws when OpenSSL cannot (no entropy is not recoverable).
void random_bytes(std::span<unsigned char> out);

/// X25519(scalar, basepoint).
bytes32 x25519_public(const bytes32& secret);
/// X25519(scalar, point); nullopt when the result is all zero (a low-order point).
std::optional<bytes32> x25519(const bytes32& secret, const bytes32& point);

/// HKDF-SHA-256 with 32 bytes of output.
bytes32 hkdf_sha256(std::span<const unsigned char> ikm, std::span<const unsigned char> salt,
                    std::string_view info);

bytes32 hmac_sha256(const bytes32& key, std::span<const unsigned char> data);

/// scrypt(N = 2^log2_n, r = 8, p = 1, dkLen = 32).
bytes32 scrypt(std::string_view passphrase, std::span<const unsigned char> salt, int log2_n);

/// Constant-time equality.
bool equal(std::span<const unsigned char> a, std::span<const unsigned char> b);

/// ChaCha20-Poly1305 with one key, for many messages with their own nonces (a context is set
/// up once; each message only resets the nonce).
class aead {
 public:
  explicit aead(const bytes32& key);
  ~aead();
  aead(const aead&) = delete;
  aead& operator=(const aead&) = delete;

  /// Writes in.size() + tag_size bytes to `out` (which may alias `in`).
  void seal(const nonce12& nonce, std::span<const unsigned char> in, unsigned char* out);
  /// Writes in.size() - tag_size bytes to `out`; false when authentication fails.
  bool open(const nonce12& nonce, std::span<const unsigned char> in, unsigned char* out);

 private:
  void* enc_;  // EVP_CIPHER_CTX
  void* dec_;
};

}  // namespace pgship::age::detail

#include "primitives.hpp"
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

namespace pgship::age::detail {
namespace {

[[noreturn]] void openssl_failed(const char* what) {
  throw std::runtime_error(std::string("OpenSSL ") + what + " failed");
}

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct pkey_ctx_deleter {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_deleter>;

EVP_CIPHER_CTX* ctx(void* p) {
  return static_cast<EVP_CIPHER_CTX*>(p);
}

}  // namespace

void random_bytes(std::span<unsigned char> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) openssl_failed("RAND_bytes");
}

bytes32 x25519_public(const bytes32& secret) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), 32));
  if (!key) openssl_failed("EVP_PKEY_new_raw_private_key");
  bytes32 out{};
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), out.data(), &len) != 1 || len != 32) {
    openssl_failed("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

std::optional<bytes32> x25519(const bytes32& secret, const bytes32& point) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), 32));
  pkey_ptr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, point.data(), 32));
  if (!key || !peer) openssl_failed("EVP_PKEY_new_raw_*_key");
  pkey_ctx_ptr c(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!c || EVP_PKEY_derive_init(c.get()) != 1) openssl_failed("EVP_PKEY_derive_init");
  // OpenSSL refuses to derive an all-zero secret, the one outcome age says to abort on.
  // An expected failure leaves nothing in the thread's error queue for a later TLS call.
  if (EVP_PKEY_derive_set_peer(c.get(), peer.get()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  bytes32 out{};
  std::size_t len = out.size();
  if (EVP_PKEY_derive(c.get(), out.data(), &len) != 1 || len != 32) {
    ERR_clear_error();
    return std::nullopt;
  }
  const bytes32 zero{};
  if (equal(out, zero)) return std::nullopt;
  return out;
}

bytes32 hkdf_sha256(std::span<const unsigned char> ikm, std::span<const unsigned char> salt,
                    std::string_view info) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) openssl_failed("EVP_KDF_fetch(HKDF)");
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (kctx == nullptr) openssl_failed("EVP_KDF_CTX_new");
  char digest[] = "SHA256";
  // An empty salt: OpenSSL keys the extract step with an empty HMAC key, which is the same
  // as RFC 5869's HashLen zeros.
  unsigned char no_salt = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(ikm.data()),
                                        ikm.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, salt.empty() ? &no_salt : const_cast<unsigned char*>(salt.data()),
          salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  bytes32 out{};
  const int ok = EVP_KDF_derive(kctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(kctx);
  if (ok != 1) openssl_failed("HKDF");
  return out;
}

bytes32 hmac_sha256(const bytes32& key, std::span<const unsigned char> data) {
  bytes32 out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr ||
      len != 32) {
    openssl_failed("HMAC");
  }
  return out;
}

bytes32 scrypt(std::string_view passphrase, std::span<const unsigned char> salt, int log2_n) {
  const std::uint64_t n = std::uint64_t{1} << log2_n;
  // scrypt needs 128 * r * N bytes of memory; OpenSSL's default cap is 32 MiB.
  const std::uint64_t maxmem = 128 * 8 * n + (std::uint64_t{1} << 20);
  bytes32 out{};
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt.data(), salt.size(), n, 8, 1,
                     maxmem, out.data(), out.size()) != 1) {
    openssl_failed("EVP_PBE_scrypt");
  }
  return out;
}

bool equal(std::span<const unsigned char> a, std::span<const unsigned char> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

aead::aead(const bytes32& key) : enc_(EVP_CIPHER_CTX_new()), dec_(EVP_CIPHER_CTX_new()) {
  if (enc_ == nullptr || dec_ == nullptr ||
      EVP_EncryptInit_ex(ctx(enc_), EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx(dec_), EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx(enc_));
    EVP_CIPHER_CTX_free(ctx(dec_));
    openssl_failed("EVP_*Init_ex(chacha20-poly1305)");
  }
}

aead::~aead() {
  EVP_CIPHER_CTX_free(ctx(enc_));
  EVP_CIPHER_CTX_free(ctx(dec_));
}

void aead::seal(const nonce12& nonce, std::span<const unsigned char> in, unsigned char* out) {
  auto* c = ctx(enc_);
  int len = 0;
  int tail = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      EVP_EncryptUpdate(c, out, &len, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_EncryptFinal_ex(c, out + len, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, tag_size, out + in.size()) != 1) {
    openssl_failed("chacha20-poly1305 seal");
  }
}

bool aead::open(const nonce12& nonce, std::span<const unsigned char> in, unsigned char* out) {
  if (in.size() < tag_size) return false;
  auto* c = ctx(dec_);
  const auto body = in.size() - tag_size;
  int len = 0;
  int tail = 0;
  // The tag is copied out first: `out` may alias `in`.
  unsigned char tag[tag_size];
  std::copy(in.data() + body, in.data() + in.size(), tag);
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      EVP_DecryptUpdate(c, out, &len, in.data(), static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, tag_size, tag) != 1) {
    openssl_failed("chacha20-poly1305 open");
  }
  if (EVP_DecryptFinal_ex(c, out + len, &tail) == 1) return true;
  ERR_clear_error();
  return false;
}

}  // namespace pgship::age::detail

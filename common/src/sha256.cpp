#include <cerrno>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship {
namespace {

EVP_MD_CTX* as_ctx(void* p) {
  return static_cast<EVP_MD_CTX*>(p);
}

void init(EVP_MD_CTX* ctx) {
  // Only fails when OpenSSL is out of memory or misconfigured: not an expected outcome.
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex(sha256) failed");
  }
}

}  // namespace

void sha256::evp_ctx_deleter::operator()(void* ctx) const noexcept {
  EVP_MD_CTX_free(as_ctx(ctx));
}

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  init(as_ctx(ctx_.get()));
}

sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

sha256 sha256::clone() const {
  sha256 copy;
  if (EVP_MD_CTX_copy_ex(as_ctx(copy.ctx_.get()), as_ctx(ctx_.get())) != 1) {
    throw std::runtime_error("EVP_MD_CTX_copy_ex failed");
  }
  copy.bytes_ = bytes_;
  return copy;
}

void sha256::update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(as_ctx(ctx_.get()), data, size) != 1) {
    throw std::runtime_error("EVP_DigestUpdate failed");
  }
  bytes_ += size;
}

void sha256::update(std::span<const std::byte> data) {
  update(data.data(), data.size());
}
void sha256::update(std::string_view data) {
  update(data.data(), data.size());
}

sha256_digest sha256::finish() {
  sha256_digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(as_ctx(ctx_.get()), out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("EVP_DigestFinal_ex failed");
  }
  init(as_ctx(ctx_.get()));
  bytes_ = 0;
  return out;
}

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

std::optional<sha256_digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  sha256_digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string to_base64(const sha256_digest& digest) {
  unsigned char out[45];  // 4 * ceil(32 / 3) + NUL
  const int n = EVP_EncodeBlock(out, digest.data(), static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::optional<sha256_digest> digest_from_base64(std::string_view b64) {
  // Exactly one '=', at the end: EVP_DecodeBlock would decode a '=' anywhere as zero bits.
  if (b64.size() != 44 || b64.find('=') != 43) return std::nullopt;
  unsigned char out[33];  // EVP_DecodeBlock writes padding bytes as zeros: 33 for 44 chars
  const int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  // A non-zero 33rd byte means the last character had padding bits set (non-canonical).
  if (n != 33 || out[32] != 0) return std::nullopt;
  sha256_digest digest{};
  std::copy(out, out + 32, digest.begin());
  return digest;
}

sha256_digest sha256_of(std::string_view data) {
  sha256 h;
  h.update(data);
  return h.finish();
}

std::optional<sha256_digest> sha256_of_file(const std::filesystem::path& path,
                                            std::error_code& ec) {
  ec.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec.assign(errno, std::generic_category());
    return std::nullopt;
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  io::discard_sink nowhere;
  io::hash_filter hash(nowhere);
  ec = io::pump_file(fd, hash, 0, std::nullopt, 1 << 20);
  ::close(fd);
  if (ec) return std::nullopt;
  return hash.digest();
}

}  // namespace pgship

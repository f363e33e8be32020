#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include <openssl/crypto.h>

#include <pgship/common/io/age_filters.hpp>

#include "../age/header.hpp"
#include "../age/primitives.hpp"

namespace pgship::io {
namespace {

using namespace age::detail;

constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t sealed_chunk_size = chunk_size + tag_size;
// A header with a few hundred recipients is tens of KiB; past this it is not a header.
constexpr std::size_t max_header_size = 1024 * 1024;
constexpr std::string_view x25519_label = "age-encryption.org/v1/X25519";
constexpr std::string_view scrypt_label = "age-encryption.org/v1/scrypt";

using file_key = bytes16;

std::span<const unsigned char> bytes_of(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Appends with a plain memmove (char iterators into a vector<unsigned char> copy byte by byte).
void append(std::vector<unsigned char>& to, std::span<const char> data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  to.insert(to.end(), p, p + data.size());
}

std::span<const char> chars_of(std::span<const unsigned char> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

nonce12 chunk_nonce(std::uint64_t counter, bool last) {
  nonce12 n{};
  for (int i = 0; i < 8; ++i)
    n[10 - i] = static_cast<unsigned char>(counter >> (8 * i));
  n[11] = last ? 1 : 0;
  return n;
}

bytes32 header_mac(const file_key& key, std::string_view mac_input) {
  return hmac_sha256(hkdf_sha256(key, {}, "header"), bytes_of(mac_input));
}

bytes32 payload_key(const file_key& key, std::span<const unsigned char> nonce) {
  return hkdf_sha256(key, nonce, "payload");
}

// The wrap key's body: the file key sealed under a fixed all-zero nonce (each wrap key is
// used once).
std::string seal_file_key(const bytes32& wrap_key, const file_key& key) {
  std::string body(key.size() + tag_size, '\0');
  aead(wrap_key).seal(nonce12{}, key, reinterpret_cast<unsigned char*>(body.data()));
  return body;
}

std::optional<file_key> open_file_key(const bytes32& wrap_key, std::string_view body) {
  if (body.size() != sizeof(file_key) + tag_size) return std::nullopt;
  file_key key{};
  if (!aead(wrap_key).open(nonce12{}, bytes_of(body), key.data())) return std::nullopt;
  return key;
}

stanza x25519_stanza(const age::recipient& r, const file_key& key) {
  bytes32 ephemeral{};
  random_bytes(ephemeral);
  const auto share = x25519_public(ephemeral);
  const auto shared = x25519(ephemeral, r.public_key);
  if (!shared) throw std::invalid_argument("recipient " + r.text + " is a low-order point");
  std::array<unsigned char, 64> salt{};
  std::copy(share.begin(), share.end(), salt.begin());
  std::copy(r.public_key.begin(), r.public_key.end(), salt.begin() + 32);
  stanza s;
  s.args = {"X25519", base64_raw({reinterpret_cast<const char*>(share.data()), share.size()})};
  s.body = seal_file_key(hkdf_sha256(*shared, salt, x25519_label), key);
  OPENSSL_cleanse(ephemeral.data(), ephemeral.size());
  return s;
}

// What unwrapping a header found: a file key, or why there is none.
struct unwrapped {
  std::optional<file_key> key;
  std::error_code ec;
};

unwrapped unwrap_x25519(const stanza& s, const std::vector<age::identity>& ids) {
  std::optional<std::string> share_bytes;
  if (s.args.size() != 2 || !(share_bytes = unbase64_raw(s.args[1])) || share_bytes->size() != 32 ||
      s.body.size() != 32) {
    return {std::nullopt, age::errc::header_invalid};
  }
  bytes32 share{};
  std::copy(share_bytes->begin(), share_bytes->end(), share.begin());
  for (const auto& id : ids) {
    const auto shared = x25519(id.secret, share);
    if (!shared) return {std::nullopt, age::errc::header_invalid};
    std::array<unsigned char, 64> salt{};
    std::copy(share.begin(), share.end(), salt.begin());
    std::copy(id.public_key.begin(), id.public_key.end(), salt.begin() + 32);
    if (auto key = open_file_key(hkdf_sha256(*shared, salt, x25519_label), s.body)) {
      return {key, {}};
    }
  }
  return {};
}

unwrapped unwrap_scrypt(const stanza& s, const age_secrets& secrets) {
  std::optional<std::string> salt;
  if (s.args.size() != 3 || !(salt = unbase64_raw(s.args[1])) || salt->size() != 16 ||
      s.body.size() != 32) {
    return {std::nullopt, age::errc::header_invalid};
  }
  // Decimal, digits only, no leading zero.
  const auto& wf = s.args[2];
  int log2_n = 0;
  if (wf.empty() || wf.front() == '0' ||
      !std::all_of(wf.begin(), wf.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {std::nullopt, age::errc::header_invalid};
  }
  const auto [end, conv] = std::from_chars(wf.data(), wf.data() + wf.size(), log2_n);
  if (conv != std::errc{} || end != wf.data() + wf.size() ||
      log2_n > std::min(secrets.max_work_factor, 30)) {
    return {std::nullopt, age::errc::work_factor_too_high};
  }
  std::string full_salt(scrypt_label);
  full_salt += *salt;
  for (const auto& pass : secrets.passphrases) {
    if (auto key = open_file_key(scrypt(pass, bytes_of(full_salt), log2_n), s.body)) {
      return {key, {}};
    }
  }
  return {};
}

unwrapped unwrap(const header& h, const age_secrets& secrets) {
  const bool has_scrypt = std::any_of(h.stanzas.begin(), h.stanzas.end(),
                                      [](const stanza& s) { return s.args[0] == "scrypt"; });
  // A passphrase-encrypted file is also a promise of who wrote it: alone, or not at all.
  if (has_scrypt && h.stanzas.size() != 1) return {std::nullopt, age::errc::header_invalid};
  for (const auto& s : h.stanzas) {
    unwrapped got;
    if (s.args[0] == "X25519" && !secrets.identities.empty()) {
      got = unwrap_x25519(s, secrets.identities);
    } else if (s.args[0] == "scrypt" && !secrets.passphrases.empty()) {
      got = unwrap_scrypt(s, secrets);
    }
    if (got.key || got.ec) return got;
  }
  return {std::nullopt, age::errc::no_match};
}

// Runs one step of a filter: a failure, returned or thrown (OpenSSL out of memory), is kept,
// and every later call returns it.
template <class F>
std::error_code guarded(std::error_code& sticky, F&& step) {
  if (sticky) return sticky;
  try {
    sticky = step();
  } catch (const std::exception&) {
    sticky = std::make_error_code(std::errc::state_not_recoverable);
  }
  return sticky;
}

}  // namespace

// ---- encryption

struct age_encryptor::impl {
  std::string header;  // written before the first payload byte
  std::optional<aead> cipher;
  std::uint64_t counter = 0;
  std::vector<unsigned char> plain;  // the chunk being filled
  std::vector<unsigned char> sealed = std::vector<unsigned char>(sealed_chunk_size);
  bool header_written = false;
  bool finished = false;
  std::error_code error;

  std::error_code put_header(sink& next) {
    if (header_written) return {};
    header_written = true;
    return next.write(header);
  }

  std::error_code take(sink& next, std::span<const char> data) {
    if (auto ec = put_header(next)) return ec;
    while (!data.empty()) {
      // A full chunk is sealed only once more bytes follow it: the last one is flagged.
      if (plain.size() == chunk_size) {
        cipher->seal(chunk_nonce(counter++, false), plain, sealed.data());
        plain.clear();
        if (auto ec = next.write(chars_of(sealed))) return ec;
      }
      const auto n = std::min(chunk_size - plain.size(), data.size());
      append(plain, data.first(n));
      data = data.subspan(n);
    }
    return {};
  }

  std::error_code end(sink& next) {
    if (finished) return std::make_error_code(std::errc::operation_not_permitted);
    finished = true;
    if (auto ec = put_header(next)) return ec;
    // Empty only when the whole payload is.
    cipher->seal(chunk_nonce(counter++, true), plain, sealed.data());
    if (auto ec = next.write(chars_of({sealed.data(), plain.size() + tag_size}))) return ec;
    OPENSSL_cleanse(plain.data(), plain.size());
    plain.clear();
    return next.finish();
  }
};

age_encryptor::age_encryptor(sink& next, std::span<const age::recipient> recipients)
    : filter(next), impl_(std::make_unique<impl>()) {
  if (recipients.empty()) throw std::invalid_argument("age: no recipients");
  file_key key{};
  random_bytes(key);
  std::vector<stanza> stanzas;
  for (const auto& r : recipients)
    stanzas.push_back(x25519_stanza(r, key));
  auto& h = impl_->header;
  h = format_stanzas(stanzas);
  const auto mac = header_mac(key, h);
  h += " " + base64_raw({reinterpret_cast<const char*>(mac.data()), mac.size()}) + "\n";
  std::array<unsigned char, 16> nonce{};
  random_bytes(nonce);
  h.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  impl_->cipher.emplace(payload_key(key, nonce));
  impl_->plain.reserve(chunk_size);
}

age_encryptor::~age_encryptor() = default;

std::error_code age_encryptor::write(std::span<const char> data) {
  return guarded(impl_->error, [&] { return impl_->take(next_, data); });
}

std::error_code age_encryptor::finish() {
  return guarded(impl_->error, [&] { return impl_->end(next_); });
}

// ---- decryption

struct age_decryptor::impl {
  age_secrets secrets;
  bool in_header = true;
  std::string head;  // the header as it arrives
  std::optional<file_key> key;
  std::vector<unsigned char> nonce;  // until 16 bytes are in
  std::optional<aead> cipher;
  std::uint64_t counter = 0;
  std::uint64_t released = 0;
  std::vector<unsigned char> sealed;  // the chunk being filled
  std::vector<unsigned char> plain = std::vector<unsigned char>(chunk_size);
  std::error_code error;
  std::string detail;

  std::error_code fail(age::errc e, std::string more = {}) {
    error = e;
    detail = std::move(more);
    return error;
  }

  std::string chunk_name() const { return "chunk " + std::to_string(counter) + " of the payload"; }

  // Opens `sealed` as the next chunk and passes its plaintext on.
  std::error_code open_chunk(sink& next, bool last, bool& opened) {
    opened = cipher->open(chunk_nonce(counter, last), sealed, plain.data());
    if (!opened) return {};
    const auto n = sealed.size() - tag_size;
    ++counter;
    sealed.clear();
    if (n == 0) return {};
    const auto ec = next.write(chars_of({plain.data(), n}));
    if (!ec) released += n;
    return ec;
  }

  // A full chunk with more bytes after it: not the last one, unless the file goes on past its
  // end (then the last chunk is still released, as age does, and the rest refused).
  std::error_code open_middle(sink& next) {
    bool opened = false;
    if (auto ec = open_chunk(next, false, opened)) return ec;
    if (opened) return {};
    const auto name = chunk_name();
    if (auto ec = open_chunk(next, true, opened)) return ec;
    if (opened) return fail(age::errc::trailing_data, "after " + name);
    return fail(age::errc::chunk_corrupt, name);
  }

  std::error_code payload(sink& next, std::span<const char> data) {
    if (!cipher) {
      const auto take = std::min(16 - nonce.size(), data.size());
      append(nonce, data.first(take));
      data = data.subspan(take);
      if (nonce.size() < 16) return {};
      cipher.emplace(payload_key(*key, nonce));
      OPENSSL_cleanse(key->data(), key->size());
      key.reset();
    }
    while (!data.empty()) {
      if (sealed.size() == sealed_chunk_size) {
        if (auto ec = open_middle(next)) return ec;
      }
      const auto take = std::min(sealed_chunk_size - sealed.size(), data.size());
      append(sealed, data.first(take));
      data = data.subspan(take);
    }
    return {};
  }

  std::error_code end(sink& next) {
    if (in_header) return fail(age::errc::header_invalid, "the file ends inside its header");
    if (!cipher) return fail(age::errc::header_invalid, "the file ends inside the payload's nonce");
    if (sealed.size() < tag_size) {
      return fail(age::errc::truncated, counter == 0
                                            ? "no payload chunk"
                                            : "no final chunk after " + std::to_string(counter));
    }
    const bool full = sealed.size() == sealed_chunk_size;
    const bool empty = sealed.size() == tag_size;
    const bool first = counter == 0;
    const auto name = chunk_name();
    bool opened = false;
    if (auto ec = open_chunk(next, true, opened)) return ec;
    if (!opened) {
      // A full chunk that opens as a middle one: the chunks after it are missing.
      if (full) {
        if (auto ec = open_chunk(next, false, opened)) return ec;
        if (opened)
          return fail(age::errc::truncated, "no final chunk after " + std::to_string(counter));
      }
      return fail(age::errc::chunk_corrupt, name);
    }
    // The final chunk may be empty only when the whole payload is.
    if (empty && !first) return fail(age::errc::chunk_corrupt, "an empty final " + name);
    return {};
  }
};

age_decryptor::age_decryptor(sink& next, age_secrets secrets)
    : filter(next), impl_(std::make_unique<impl>()) {
  impl_->secrets = std::move(secrets);
  impl_->sealed.reserve(sealed_chunk_size);
}

age_decryptor::~age_decryptor() = default;

std::string age_decryptor::problem() const {
  if (!impl_->error) return {};
  auto text = impl_->error.message();
  if (!impl_->detail.empty()) text += " (" + impl_->detail + ")";
  return text;
}

std::uint64_t age_decryptor::released() const {
  return impl_->released;
}

std::error_code age_decryptor::write(std::span<const char> data) {
  return guarded(impl_->error, [&] { return take(data); });
}

std::error_code age_decryptor::finish() {
  return guarded(impl_->error, [&]() -> std::error_code {
    if (auto ec = impl_->end(next_)) return ec;
    return next_.finish();
  });
}

std::error_code age_decryptor::take(std::span<const char> data) {
  auto& s = *impl_;
  if (!s.in_header) return s.payload(next_, data);
  const auto take = std::min(max_header_size - s.head.size(), data.size());
  const auto piece = data.first(take);
  const bool new_line = std::find(piece.begin(), piece.end(), '\n') != piece.end();
  s.head.append(piece.data(), piece.size());
  // A line only completes with a line feed: without one, nothing new can parse.
  if (!new_line) {
    if (take < data.size()) return s.fail(age::errc::header_invalid, "a header over 1 MiB");
    // Judged on the bytes before this piece too: the outcome must not depend on how the
    // input was split.
    if (s.head.size() - piece.size() < 32) {
      std::error_code early;
      parse_header(s.head, early);  // refuses at once what can never become an age header
      if (early) return s.fail(static_cast<age::errc>(early.value()));
    }
    return {};
  }
  std::error_code ec;
  const auto h = parse_header(s.head, ec);
  if (ec) return s.fail(static_cast<age::errc>(ec.value()));
  if (!h) {
    if (take < data.size()) return s.fail(age::errc::header_invalid, "a header over 1 MiB");
    return {};
  }
  if (s.secrets.identities.empty() && s.secrets.passphrases.empty()) {
    return s.fail(age::errc::no_identity);
  }
  auto got = unwrap(*h, s.secrets);
  if (got.ec) return s.fail(static_cast<age::errc>(got.ec.value()));
  const auto mac = header_mac(*got.key, std::string_view(s.head).substr(0, h->mac_input_size));
  if (!equal(mac, bytes_of(h->mac))) return s.fail(age::errc::mac_mismatch);
  s.in_header = false;
  s.key = got.key;
  OPENSSL_cleanse(got.key->data(), got.key->size());
  // What followed the header in the bytes so far, then the rest of this piece, is payload.
  const std::string after = s.head.substr(h->size);
  s.head.clear();
  s.head.shrink_to_fit();
  if (auto pec = s.payload(next_, after)) return pec;
  return s.payload(next_, data.subspan(take));
}

bool starts_like_age(std::span<const char> head) {
  constexpr std::string_view line = "age-encryption.org/v1\n";
  return head.size() >= line.size() && std::string_view(head.data(), line.size()) == line;
}

}  // namespace pgship::io

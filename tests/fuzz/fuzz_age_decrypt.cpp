// The age v1 decryptor (header, stanzas, HMAC, STREAM payload) on untrusted backup files, with
// fixed X25519 identities and no passphrases (scrypt would be slow). The file is decrypted
// once whole and once in pieces sized from a hash of the input: the outcomes must agree.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/sink.hpp>

namespace {

using namespace pgship;

// Ours (age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj: the seeds made with
// the age CLI) and the C2SP testkit's (the vectors in tests/data/age-testkit).
constexpr std::string_view identities =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n"
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0\n";

const std::vector<age::identity>& keys() {
  static const auto parsed = age::parse_identities_file(identities);
  return parsed;
}

std::uint64_t fnv(std::span<const char> bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : bytes)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

struct outcome {
  std::error_code ec;
  std::uint64_t released = 0;
  std::uint64_t out_hash = 0;
  bool operator==(const outcome&) const = default;
};

// max_piece 0: everything in one write.
outcome decrypt(std::span<const char> file, std::uint64_t seed, std::size_t max_piece) {
  io::buffer_sink out;
  io::age_decryptor dec(out, {.identities = keys(), .passphrases = {}, .max_work_factor = 10});
  std::error_code ec;
  while (!ec && !file.empty()) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    const std::size_t n =
        max_piece == 0 ? file.size() : std::min(file.size(), 1 + seed % max_piece);
    ec = dec.write(file.first(n));
    file = file.subspan(n);
  }
  if (!ec) ec = dec.finish();
  if (ec && dec.problem().empty()) __builtin_trap();
  if (!ec && !out.finished()) __builtin_trap();
  if (dec.released() != out.bytes().size()) __builtin_trap();
  return {ec, dec.released(), fnv(out.bytes())};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> file(reinterpret_cast<const char*>(data), size);
  const std::uint64_t seed = fnv(file) | 1;
  constexpr std::size_t limits[] = {1, 3, 16, 61, 200, 4096};
  const outcome whole = decrypt(file, seed, 0);
  const outcome pieces = decrypt(file, seed, limits[seed % std::size(limits)]);
  if (!(whole == pieces)) __builtin_trap();
  return 0;
}

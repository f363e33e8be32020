// The age filter alone: how many bytes per second one core encrypts and decrypts through
// pgship's age_encryptor / age_decryptor (64 KiB ChaCha20-Poly1305 chunks, the header, the
// chain's copies), to put beside `openssl speed -evp chacha20-poly1305 -bytes 65536`, the
// primitive's own speed on this CPU. Run it pinned to one core (bench/encryption.sh does).
//
//   pgship_age_bench [MiB per pass, default 512] [passes, default 4]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/filters.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

// Counts what reaches it; the bytes themselves go nowhere.
class counting_sink final : public pgship::io::sink {
 public:
  std::error_code write(std::span<const char> data) override {
    bytes += data.size();
    return {};
  }
  std::error_code finish() override { return {}; }
  std::uint64_t bytes = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
  const int passes = argc > 2 ? std::atoi(argv[2]) : 4;
  const std::size_t size = mib * 1024 * 1024;
  // Random plaintext; ChaCha20's speed does not depend on it, but nothing can shortcut it.
  std::string plain(size, '\0');
  std::mt19937_64 rng(42);
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const auto w = rng();
    std::copy_n(reinterpret_cast<const char*>(&w), 8, plain.data() + i);
  }
  const auto id = pgship::age::generate_identity();
  const std::vector<pgship::age::recipient> to{
      pgship::age::parse_recipient(pgship::age::encode_recipient(id.public_key))};
  // The pieces a pipe hands the chain: 256 KiB, as the dump stage reads them.
  constexpr std::size_t piece = 256 * 1024;

  pgship::io::buffer_sink file;
  {
    pgship::io::age_encryptor enc(file, to);
    for (std::size_t at = 0; at < size; at += piece)
      (void)enc.write({plain.data() + at, std::min(piece, size - at)});
    (void)enc.finish();
  }
  const std::string cipher = file.text();
  file.clear();

  std::vector<double> enc_rates, dec_rates;
  for (int p = 0; p < passes; ++p) {
    counting_sink out;
    const auto t0 = clock_type::now();
    pgship::io::age_encryptor enc(out, to);
    for (std::size_t at = 0; at < size; at += piece)
      (void)enc.write({plain.data() + at, std::min(piece, size - at)});
    (void)enc.finish();
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    enc_rates.push_back(static_cast<double>(size) / s / 1e9);

    counting_sink back;
    const auto t1 = clock_type::now();
    pgship::io::age_decryptor dec(back, pgship::io::age_secrets{{id}, {}, 22});
    bool ok = true;
    for (std::size_t at = 0; at < cipher.size(); at += piece)
      ok = ok && !dec.write({cipher.data() + at, std::min(piece, cipher.size() - at)});
    ok = ok && !dec.finish() && back.bytes == size;
    const double s2 = std::chrono::duration<double>(clock_type::now() - t1).count();
    if (!ok) {
      std::fprintf(stderr, "decryption failed: %s\n", dec.problem().c_str());
      return 1;
    }
    dec_rates.push_back(static_cast<double>(size) / s2 / 1e9);
  }
  std::printf("age_encryptor %zu MiB x %d: median %.2f GB/s (runs:", mib, passes,
              median(enc_rates));
  for (const auto r : enc_rates)
    std::printf(" %.2f", r);
  std::printf(")\nage_decryptor %zu MiB x %d: median %.2f GB/s (runs:", mib, passes,
              median(dec_rates));
  for (const auto r : dec_rates)
    std::printf(" %.2f", r);
  std::printf(")\n");
  return 0;
}

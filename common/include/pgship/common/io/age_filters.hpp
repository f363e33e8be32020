#pragma once
// age v1 (C2SP age specification) as chain stages. The encryptor needs only recipients' public
// keys, so a host that writes backups can never read them back; the decryptor takes X25519
// identities and, for files made with `age -p`, passphrases. The payload is ChaCha20-Poly1305
// in 64 KiB chunks, each authenticated before a byte of it is passed on; the last chunk is
// flagged, so a file cut short at a chunk boundary is caught at finish().

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/sink.hpp>

namespace pgship::io {

class age_encryptor final : public filter {
 public:
  /// `recipients` must not be empty.
  age_encryptor(sink& next, std::span<const age::recipient> recipients);
  ~age_encryptor() override;
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct age_secrets {
  std::vector<age::identity> identities;
  std::vector<std::string> passphrases;
  /// The largest scrypt work factor (log2 N) a passphrase stanza may ask for; age's own limit.
  int max_work_factor = 22;
};

/// Errors are age::errc values; problem() says more (which chunk). A failure, of this stage or
/// a later one, stays: every later call returns it (so for the encryptor too).
class age_decryptor final : public filter {
 public:
  age_decryptor(sink& next, age_secrets secrets);
  ~age_decryptor() override;
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;
  /// The error's message with its detail ("chunk 12 of the payload ..."); empty when none.
  std::string problem() const;
  std::string describe(const std::error_code& ec) const override {
    return age::is_age_error(ec) ? problem() : next_.describe(ec);
  }
  /// Plaintext bytes passed on so far (each of them authenticated).
  std::uint64_t released() const;

 private:
  std::error_code take(std::span<const char> data);
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Whether a file starts like an age v1 file (its version line).
bool starts_like_age(std::span<const char> head);

}  // namespace pgship::io

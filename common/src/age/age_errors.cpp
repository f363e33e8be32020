#include <string>

#include <pgship/common/age/age_errors.hpp>

namespace pgship::age {
namespace {

class age_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "age"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::not_age:
        return "not an age v1 file";
      case errc::unsupported_version:
        return "an age file of an unsupported version";
      case errc::header_invalid:
        return "the age header is malformed";
      case errc::work_factor_too_high:
        return "the age passphrase stanza's scrypt work factor is above the limit";
      case errc::no_identity:
        return "the file is age-encrypted and no identity was given to decrypt it";
      case errc::no_match:
        return "no identity given matches any recipient of the age file";
      case errc::mac_mismatch:
        return "the age header's MAC does not match: the header was tampered with";
      case errc::chunk_corrupt:
        return "an age payload chunk failed authentication: the file was corrupted or "
               "tampered with";
      case errc::truncated:
        return "the age file ends before its final chunk: it was truncated";
      case errc::trailing_data:
        return "the age file has bytes after its final chunk";
    }
    return "age error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& category() {
  static const age_category instance;
  return instance;
}

}  // namespace pgship::age

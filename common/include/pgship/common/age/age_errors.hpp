#pragma once
// Why an age file does not decrypt, as error codes a chain stage can return. The C2SP age
// testkit's outcomes map onto them: header failure (not_age .. work_factor_too_high), no match,
// HMAC failure, payload failure (chunk_corrupt .. trailing_data).

#include <system_error>

namespace pgship::age {

enum class errc {
  not_age = 1,           // does not start with the age v1 version line
  unsupported_version,   // age-encryption.org/<something other than v1>
  header_invalid,        // a malformed line, stanza or MAC
  work_factor_too_high,  // an scrypt stanza asks for more work than we allow
  no_identity,           // nothing to unwrap stanzas with
  no_match,              // no identity unwraps any stanza
  mac_mismatch,          // the header was changed after it was written
  chunk_corrupt,         // a payload chunk failed authentication
  truncated,             // the payload ends before its final chunk
  trailing_data,         // bytes after the final chunk
};

const std::error_category& category();

inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

/// Whether `ec` is one of ours (and so names a problem with the file, not with the disk).
inline bool is_age_error(const std::error_code& ec) {
  return &ec.category() == &category();
}

}  // namespace pgship::age

template <>
struct std::is_error_code_enum<pgship::age::errc> : std::true_type {};

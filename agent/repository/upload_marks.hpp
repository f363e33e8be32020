#pragma once
// How a local backup's upload ends, recorded in its manifest: shipped (rotation may now take
// it) or failed (kept, and shipped by a later run's catch-up, from where the receiver stands).
// Each rewrites the manifest atomically; a manifest is first given its upload state (pending
// or skipped) when it is built (manifest_builder.hpp).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "repository/manifest.hpp"

namespace pgship::agent {

/// What one upload of a backup did, as its manifest keeps it.
struct upload_attempt {
  std::string receiver;  // BACKUP_API_URL, its password redacted
  std::uint64_t bytes_sent = 0;
  int retries = 0;
  int resumes = 0;
  /// Where the upload stands on the receiver: what a later attempt continues ("" for nothing).
  std::string resume_at;
};

/// `m` is on the receiver (finished now): its manifest in `dir` says so.
std::error_code mark_shipped(const std::filesystem::path& dir, manifest& m,
                             const upload_attempt& attempt);

/// The upload of `m` failed with `error`. `attempt` is null when none was made (the run could
/// not upload): the last attempt's record then stays.
std::error_code mark_failed(const std::filesystem::path& dir, manifest& m, std::string_view error,
                            const upload_attempt* attempt);

}  // namespace pgship::agent

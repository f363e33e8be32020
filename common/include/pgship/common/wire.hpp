#pragma once
// The receiver's HTTP API as both programs spell it (DESIGN.md "Receiver HTTP API"): paths,
// header names, limits and the error names a client decides on. One spelling for the agent and
// the receiver, so a rename fails to compile instead of silently changing what the other side
// sees. (Older routes still spell theirs in place; they move here as they are touched.)

#include <cstdint>
#include <string_view>

namespace pgship::wire {

/// POST: one streamed upload (raw body or multipart/form-data).
inline constexpr std::string_view upload_path = "/api/backup/upload";
/// GET download_prefix + id (+ download_checksum_suffix or download_manifest_suffix).
inline constexpr std::string_view download_prefix = "/api/backup/download/";
inline constexpr std::string_view download_checksum_suffix = ".sha256";
inline constexpr std::string_view download_manifest_suffix = ".manifest";

/// The stored file name of a raw upload: a backup, or a backup's manifest
/// (manifest_name.hpp).
inline constexpr std::string_view backup_name_header = "X-Backup-Name";
/// The upload's whole-body SHA-256, 64 hex digits.
inline constexpr std::string_view content_sha256_header = "X-Content-SHA256";
/// On a manifest download: the name it is stored under (`.manifest.json` or
/// `.manifest.json.age`), which says whether the bytes are encrypted.
inline constexpr std::string_view manifest_name_header = "X-Manifest-Name";

/// The most bytes a manifest may have; a larger upload is 413.
inline constexpr std::uint64_t max_manifest_bytes = 16ull << 20;

/// The `error` field of the JSON error body.
namespace error {
inline constexpr std::string_view not_found = "not_found";
inline constexpr std::string_view conflict = "conflict";
inline constexpr std::string_view hash_mismatch = "hash_mismatch";
inline constexpr std::string_view payload_too_large = "payload_too_large";
}  // namespace error

}  // namespace pgship::wire

#pragma once
// The receiver's own header names (tus headers are in tus.hpp).

#include <string_view>

namespace pgship::wire {

/// The stored file name of a raw upload: a backup, or a backup's manifest
/// (manifest_name.hpp).
inline constexpr std::string_view backup_name_header = "X-Backup-Name";
/// The upload's whole-body SHA-256, 64 hex digits (also on the tus PATCH that sets a deferred
/// Upload-Length).
inline constexpr std::string_view content_sha256_header = "X-Content-SHA256";
/// On a manifest download: the name it is stored under (`.manifest.json` or
/// `.manifest.json.age`), which says whether the bytes are encrypted.
inline constexpr std::string_view manifest_name_header = "X-Manifest-Name";

}  // namespace pgship::wire

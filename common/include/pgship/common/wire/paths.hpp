#pragma once
// The receiver's HTTP API paths and limits as both programs spell them (DESIGN.md "Receiver
// HTTP API"), so a rename fails to compile instead of silently changing what the other side
// sees.

#include <cstdint>
#include <string_view>

namespace pgship::wire {

/// GET: {"status":"ok"} or "degraded" with a reason.
inline constexpr std::string_view health_path = "/health";
/// POST: one streamed upload (raw body or multipart/form-data).
inline constexpr std::string_view upload_path = "/api/backup/upload";
/// GET: the stored backups, newest first (backup_record.hpp), `?database=` and `?kind=`.
inline constexpr std::string_view list_path = "/api/backup/list";
/// GET download_prefix + id (+ download_checksum_suffix or download_manifest_suffix).
inline constexpr std::string_view download_prefix = "/api/backup/download/";
inline constexpr std::string_view download_checksum_suffix = ".sha256";
inline constexpr std::string_view download_manifest_suffix = ".manifest";
/// tus: POST creates an upload, uploads_path + "/" + uid is its resource (tus.hpp).
inline constexpr std::string_view uploads_path = "/api/backup/uploads";

/// The most bytes a manifest may have; a larger upload is 413.
inline constexpr std::uint64_t max_manifest_bytes = 16ull << 20;

}  // namespace pgship::wire

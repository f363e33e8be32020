#pragma once
// tus 1.0.0 (https://tus.io/protocols/resumable-upload) as the receiver serves it and the
// agent speaks it: the version, the extensions, the header names and the checksum extension's
// status 460. The upload resources live under wire::uploads_path (paths.hpp).

#include <optional>
#include <string>
#include <string_view>

namespace pgship::wire::tus {

inline constexpr std::string_view version = "1.0.0";
/// Tus-Extension of the OPTIONS answer.
inline constexpr std::string_view extensions =
    "creation,creation-defer-length,checksum,termination,expiration";
/// Tus-Checksum-Algorithm: the only one taken, and the prefix of an Upload-Checksum value.
inline constexpr std::string_view checksum_algorithm = "sha256";
/// The Content-Type of every PATCH body.
inline constexpr std::string_view patch_content_type = "application/offset+octet-stream";
/// Upload-Defer-Length's only value.
inline constexpr std::string_view defer_length_value = "1";

/// "460 Checksum Mismatch": a PATCH body that does not match its Upload-Checksum; nothing of
/// it is kept, and sending it again may pass.
inline constexpr unsigned checksum_mismatch_status = 460;

/// Upload-Metadata keys: the backup's file name, and its sha256 (hex), required unless the
/// length is deferred.
namespace metadata {
inline constexpr std::string_view filename = "filename";
inline constexpr std::string_view sha256 = "sha256";
}  // namespace metadata

/// The Upload-Metadata value "filename <base64>[,sha256 <base64 of the hex>]".
std::string encode_metadata(std::string_view filename, std::optional<std::string_view> sha256_hex);

namespace header {
inline constexpr std::string_view resumable = "Tus-Resumable";
inline constexpr std::string_view version = "Tus-Version";
inline constexpr std::string_view extension = "Tus-Extension";
inline constexpr std::string_view max_size = "Tus-Max-Size";
inline constexpr std::string_view checksum_algorithm = "Tus-Checksum-Algorithm";
inline constexpr std::string_view upload_offset = "Upload-Offset";
inline constexpr std::string_view upload_length = "Upload-Length";
inline constexpr std::string_view upload_defer_length = "Upload-Defer-Length";
inline constexpr std::string_view upload_metadata = "Upload-Metadata";
inline constexpr std::string_view upload_checksum = "Upload-Checksum";
inline constexpr std::string_view upload_expires = "Upload-Expires";
}  // namespace header

}  // namespace pgship::wire::tus

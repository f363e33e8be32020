#pragma once
// The catalogue of error names our HTTP servers send (the receiver's API and the agent's control
// API): the `error` field of the JSON error body ({"error": name, "detail": text}). One enum and
// one table for both programs: the receiver answers with an entry, the agent parses the field back
// into one and decides on it. Renaming an entry's string changes both sides; removing an entry
// fails to compile where it is used. README.md ("Receiver HTTP API") lists each with its statuses
// and meaning.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgship::wire {

enum class api_error : std::uint8_t {
  // The HTTP server, for every route.
  bad_request,         // 400: malformed request, header or body framing
  header_too_large,    // 431: request header over the limit
  not_found,           // 404: no such route, backup or upload
  method_not_allowed,  // 405
  payload_too_large,   // 413: body over the route's or MAX_UPLOAD_BYTES limit
  internal,            // 500: a handler failed unexpectedly
  // Authentication and admission.
  unauthorized,          // 401: no token or an unknown one
  forbidden,             // 403: the token lacks the scope
  rate_limited,          // 429: too many requests or failed tokens; Retry-After says when
  too_many_connections,  // 429: past MAX_CONNECTIONS_PER_IP (then the connection closes)
  busy,                  // 503: too many concurrent uploads; Retry-After says when
  insufficient_storage,  // 507: not enough free space above MIN_FREE_BYTES
  quota_exceeded,        // 507: the client's QUOTA_BYTES would be exceeded
  // Reads and deletes.
  invalid_id,             // 400: a backup id that is not a backup name
  invalid_database,       // 400: a bad ?database=
  invalid_kind,           // 400: a bad ?kind=
  precondition_failed,    // 412: If-Match / If-Unmodified-Since failed
  range_not_satisfiable,  // 416
  append_only,            // 403: DELETE under APPEND_ONLY
  storage_error,          // 500: the storage failed
  // Uploads, raw and tus.
  upload_interrupted,  // 400/413/507: the body ended early, went past its length, or no space
  bad_checksum,        // 400: a sha256 that is not 64 hex digits (or base64 of 32 bytes)
  missing_name,        // 400: no X-Backup-Name and no multipart file part
  invalid_name,        // 400: not a backup (or manifest) name
  hash_mismatch,       // 422: the received bytes have another sha256
  conflict,            // 409 (403 under APPEND_ONLY): another backup with this name is stored
  // tus only.
  unsupported_tus_version,  // 412: Tus-Resumable is not 1.0.0
  bad_upload_length,        // 400/413/500: Upload-Length missing, invalid or not storable
  bad_metadata,             // 400: malformed Upload-Metadata
  bad_upload_offset,        // 400: Upload-Offset missing
  offset_mismatch,          // 409: Upload-Offset is not the current offset
  upload_complete,          // 413: bytes sent to a finished upload
  bad_content_type,         // 415: PATCH body not application/offset+octet-stream
  unsupported_checksum,     // 400: an Upload-Checksum algorithm other than sha256
  locked,                   // 423: another PATCH of this upload is in progress
  checksum_mismatch,        // 460: the PATCH body does not match Upload-Checksum
  // The physical archive (wire/wal.hpp).
  invalid_system,         // 400: a system identifier that is not 1 to 20 decimal digits
  invalid_wal_name,       // 400: not a sealed unit's or history file's name (wal/wal_names.hpp)
  segment_size_mismatch,  // 409: X-Wal-Segment-Size is not the system's
  wal_gap,                // 409: a segment's units leave a hole while later WAL exists
  wal_unsupported,        // 501: this receiver's storage keeps no physical archive
  wal_incomplete,         // 409: a base backup's mark before it is stored and its WAL held
  // The agent's control API.
  bad_body,          // 400: a POST body that is not the JSON object the route takes
  unknown_database,  // 400: a database the agent is not configured for
  bad_limit,         // 400: a ?limit= that is not a number
};

struct api_error_entry {
  api_error code;
  std::string_view name;
};

/// Every entry, in enum order: the one place an error's wire string is spelled.
inline constexpr std::array api_errors{
    api_error_entry{api_error::bad_request, "bad_request"},
    api_error_entry{api_error::header_too_large, "header_too_large"},
    api_error_entry{api_error::not_found, "not_found"},
    api_error_entry{api_error::method_not_allowed, "method_not_allowed"},
    api_error_entry{api_error::payload_too_large, "payload_too_large"},
    api_error_entry{api_error::internal, "internal"},
    api_error_entry{api_error::unauthorized, "unauthorized"},
    api_error_entry{api_error::forbidden, "forbidden"},
    api_error_entry{api_error::rate_limited, "rate_limited"},
    api_error_entry{api_error::too_many_connections, "too_many_connections"},
    api_error_entry{api_error::busy, "busy"},
    api_error_entry{api_error::insufficient_storage, "insufficient_storage"},
    api_error_entry{api_error::quota_exceeded, "quota_exceeded"},
    api_error_entry{api_error::invalid_id, "invalid_id"},
    api_error_entry{api_error::invalid_database, "invalid_database"},
    api_error_entry{api_error::invalid_kind, "invalid_kind"},
    api_error_entry{api_error::precondition_failed, "precondition_failed"},
    api_error_entry{api_error::range_not_satisfiable, "range_not_satisfiable"},
    api_error_entry{api_error::append_only, "append_only"},
    api_error_entry{api_error::storage_error, "storage_error"},
    api_error_entry{api_error::upload_interrupted, "upload_interrupted"},
    api_error_entry{api_error::bad_checksum, "bad_checksum"},
    api_error_entry{api_error::missing_name, "missing_name"},
    api_error_entry{api_error::invalid_name, "invalid_name"},
    api_error_entry{api_error::hash_mismatch, "hash_mismatch"},
    api_error_entry{api_error::conflict, "conflict"},
    api_error_entry{api_error::unsupported_tus_version, "unsupported_tus_version"},
    api_error_entry{api_error::bad_upload_length, "bad_upload_length"},
    api_error_entry{api_error::bad_metadata, "bad_metadata"},
    api_error_entry{api_error::bad_upload_offset, "bad_upload_offset"},
    api_error_entry{api_error::offset_mismatch, "offset_mismatch"},
    api_error_entry{api_error::upload_complete, "upload_complete"},
    api_error_entry{api_error::bad_content_type, "bad_content_type"},
    api_error_entry{api_error::unsupported_checksum, "unsupported_checksum"},
    api_error_entry{api_error::locked, "locked"},
    api_error_entry{api_error::checksum_mismatch, "checksum_mismatch"},
    api_error_entry{api_error::invalid_system, "invalid_system"},
    api_error_entry{api_error::invalid_wal_name, "invalid_wal_name"},
    api_error_entry{api_error::segment_size_mismatch, "segment_size_mismatch"},
    api_error_entry{api_error::wal_gap, "wal_gap"},
    api_error_entry{api_error::wal_unsupported, "wal_unsupported"},
    api_error_entry{api_error::wal_incomplete, "wal_incomplete"},
    api_error_entry{api_error::bad_body, "bad_body"},
    api_error_entry{api_error::unknown_database, "unknown_database"},
    api_error_entry{api_error::bad_limit, "bad_limit"},
};

namespace detail {
constexpr bool in_enum_order() {
  for (std::size_t i = 0; i < api_errors.size(); ++i) {
    if (static_cast<std::size_t>(api_errors[i].code) != i || api_errors[i].name.empty()) {
      return false;
    }
  }
  // The last enumerator has the last row: an enumerator added without its row fails here.
  return static_cast<std::size_t>(api_error::bad_limit) + 1 == api_errors.size();
}
}  // namespace detail
static_assert(detail::in_enum_order(), "api_errors must list every api_error in enum order");

constexpr std::string_view to_string(api_error e) {
  return api_errors[static_cast<std::size_t>(e)].name;
}

/// The entry an `error` field names; nullopt for a name not in the catalogue (another
/// program's, or a newer receiver's).
constexpr std::optional<api_error> parse_api_error(std::string_view name) {
  for (const auto& entry : api_errors) {
    if (entry.name == name) return entry.code;
  }
  return std::nullopt;
}

}  // namespace pgship::wire

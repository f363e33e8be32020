#pragma once
// Resumable uploads, tus 1.0.0 with the creation, checksum (sha256), termination and
// expiration extensions, at /api/backup/uploads. State lives in .incoming/<uid>.tus (JSON:
// owner, file name, length, expected sha256) beside <uid>.data; the durable offset is the data
// file's size, so an upload survives a receiver crash and resumes where its bytes end.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <pgship/common/http/router.hpp>

#include "context.hpp"

namespace pgship::receiver {

/// Which uploads are mid-PATCH and their running hashes. Thread-safe.
struct tus_uploads;

std::shared_ptr<tus_uploads> add_tus_routes(http_server::router& routes,
                                            std::shared_ptr<receiver_context> ctx);

/// Removes incomplete uploads not touched for UPLOAD_EXPIRY (skipping any mid-PATCH).
void expire_tus_uploads(tus_uploads& uploads);

/// Parses an Upload-Metadata header ("key base64value,key2 base64value2"); nullopt when
/// malformed (bad base64, empty or duplicate key).
std::optional<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header);

}  // namespace pgship::receiver

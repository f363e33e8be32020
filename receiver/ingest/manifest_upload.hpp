#pragma once
// A backup's manifest travels with it (DESIGN.md "Backup naming and files"): the agent uploads
// it after the backup through POST /api/backup/upload, raw, with X-Backup-Name
// `<id>.manifest.json` (`.manifest.json.age` when encrypted), and anyone with the read scope gets
// it back from GET /api/backup/download/{id}.manifest (api/manifest_download). The bytes are opaque
// here (maybe ciphertext): stored beside the backup (storage::put_manifest), never parsed.

#include <optional>

#include <pgship/common/manifest_name.hpp>
#include <pgship/common/sha256.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

/// The upload route's answer to a manifest name, with the request's X-Content-SHA256. Its
/// backup must be stored for this client (else 404); at most wire::max_manifest_bytes (413);
/// a hash mismatch is 422 with nothing kept. 201 when stored, 200 when the same bytes were
/// stored already; another manifest of the backup is replaced (201), but under APPEND_ONLY it
/// stays and the answer is 403, as for a backup.
net::awaitable<void> receive_manifest(http_server::exchange& ex, receiver_context& ctx,
                                      const principal& who, const manifest_name& name,
                                      const std::optional<sha256_digest>& expected);

}  // namespace pgship::receiver

#pragma once
// A tus PATCH, second job: once admitted (tus_patch_admission.hpp), the body is appended to the
// upload's data file and hashed; a chunk with Upload-Checksum is kept whole or not at all, and
// the PATCH that reaches the full length checks the whole file and commits the backup.

#include <pgship/common/http/exchange.hpp>

#include "ingest/tus/tus_patch_admission.hpp"
#include "ingest/tus/tus_reply.hpp"
#include "ingest/tus/tus_store.hpp"
#include "state/tokens.hpp"

namespace pgship::receiver {

/// Receives the body of an admitted PATCH to `info`, answers it, and commits the upload when it
/// is complete. `locks` are released before each answer.
net::awaitable<void> receive_patch(http_server::exchange& ex, tus_service& st, const principal& who,
                                   upload_info& info, const patch_admitted& admitted,
                                   patch_locks& locks);

}  // namespace pgship::receiver

#pragma once
// A tus PATCH, first job: everything decided before a byte of the body is read. The headers
// (a length once set, the content type, Upload-Checksum), a place among the concurrent uploads
// and the upload's lock, the offset, the length and sha256 that end a deferred upload, and the
// quota and free-space reserve a deferred upload is held to. Receiving the body is
// tus_patch_body.hpp.

#include <cstdint>
#include <optional>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/sha256.hpp>

#include "ingest/tus/tus_reply.hpp"
#include "ingest/tus/tus_store.hpp"
#include "policy/admission.hpp"
#include "state/context.hpp"
#include "state/tokens.hpp"

namespace pgship::receiver {

/// A place among the concurrent uploads and the upload's lock, taken by admission and held
/// until the answer. Released (the lock first) before the answer is sent: a client that has it
/// may send its next PATCH at once.
struct patch_locks {
  std::optional<upload_slot> slot;
  std::optional<busy_guard> guard;
  void release() {
    if (guard) guard->release();
    if (slot) slot->release();
  }
};

/// What admission decided about a PATCH it let through.
struct patch_admitted {
  /// The durable offset the body is appended at.
  std::uint64_t offset = 0;
  /// Upload-Checksum: the chunk is all or nothing.
  std::optional<sha256_digest> chunk_expected;
  /// A deferred upload sent chunked: the limits are checked write by write.
  bool held_per_write = false;
};

/// Admits a PATCH to `info` (whose deferred length it may set), or answers the refusal and
/// returns nothing. `locks` hold what it took until the PATCH is answered.
net::awaitable<std::optional<patch_admitted>> admit_patch(http_server::exchange& ex,
                                                          tus_service& st, const principal& who,
                                                          upload_info& info, patch_locks& locks);

}  // namespace pgship::receiver

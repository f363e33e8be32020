#pragma once
// The end of every upload, single-request or resumable: sync, check the whole-file SHA-256,
// commit atomically, answer, count and log.

#include <functional>
#include <optional>
#include <string>

#include <pgship/common/sha256.hpp>

#include "ingest/incoming_file.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

/// How an upload ended.
enum class upload_end {
  stored,         // 201 created or 200 identical
  refused,        // 409/403 conflict or 422 hash mismatch: final, the bytes are gone
  storage_error,  // 500: the bytes are kept when `resumable`, for another try
};

/// `file` holds all the bytes; `digest` is their SHA-256. Answers 201 (created, with the
/// record), 200 (identical backup already stored), 409 (same name, other content; 403 under
/// APPEND_ONLY), 422 (`expected` given and different: nothing is kept) or 500 (disk error).
net::awaitable<upload_end> commit_upload(http_server::exchange& ex, receiver_context& ctx,
                                         const principal& who, const std::string& name,
                                         incoming_file& file, const sha256_digest& digest,
                                         const std::optional<sha256_digest>& expected,
                                         const http::fields& extra_headers = {},
                                         bool resumable = false,
                                         const std::function<void(upload_end)>& before_answer = {});

}  // namespace pgship::receiver

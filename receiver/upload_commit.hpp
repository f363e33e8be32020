#pragma once
// The end of every upload, single-request or resumable: sync, check the whole-file SHA-256,
// commit atomically, answer, count and log.

#include "context.hpp"
#include "incoming_file.hpp"

#include <pgship/common/sha256.hpp>

#include <optional>
#include <string>

namespace pgship::receiver {

/// `file` holds all the bytes; `digest` is their SHA-256. Answers 201 (created, with the
/// record), 200 (identical backup already stored), 409 (same name, other content), 422
/// (`expected` given and different: nothing is kept) or 500 (disk error).
net::awaitable<void> commit_upload(http_server::exchange& ex, receiver_context& ctx,
                                   const principal& who, const std::string& name,
                                   incoming_file& file, const sha256_digest& digest,
                                   const std::optional<sha256_digest>& expected,
                                   const http::fields& extra_headers = {});

/// Runs retention for one client's database after a commit (no-op when off or APPEND_ONLY).
void apply_retention(receiver_context& ctx, const std::string& client, const std::string& database);

}  // namespace pgship::receiver

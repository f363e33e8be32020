#pragma once
// What the agent's two tus uploaders share: how a reply is judged (retry, or give up with which
// code), the requests they make, the headers they read, and the checksum of a range. The
// protocol's spelling (version, header names) is the wire's (wire/tus.hpp).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <pgship/common/sha256.hpp>
#include <pgship/common/wire/headers.hpp>
#include <pgship/common/wire/paths.hpp>
#include <pgship/common/wire/tus.hpp>

#include "net/http_client.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

namespace tus = wire::tus;

/// What one attempt ended with: done, or an error that is retryable or not.
struct attempt_end {
  stage_error error;
  bool retryable = false;
  /// The receiver throttled the request (429/503 + Retry-After): try again after this, which
  /// is not a failure and spends no retry.
  std::optional<std::chrono::seconds> wait;
};

attempt_end retry_with(errc code, std::string message);
attempt_end give_up(errc code, std::string message);
/// A transport failure or a non-success answer, classified by the retry policy.
attempt_end from_reply(const http_outcome& reply, std::string_view what);

/// The wait a 429 or 503 answer asks for with Retry-After (delta-seconds, capped at 10
/// minutes); nullopt for any other answer, or a Retry-After that is not a number.
std::optional<std::chrono::seconds> retry_after(const http_outcome& reply);

/// A tus request to `target` with the token and Tus-Resumable set.
http_request tus_request(boost::beast::http::verb method, std::string target,
                         const std::string& token);

/// A PATCH to `target` of the bytes at `offset`.
http_request tus_patch(std::string target, const std::string& token, std::uint64_t offset);
/// The same, for bytes whose SHA-256 is `digest` (Upload-Checksum).
http_request tus_patch(std::string target, const std::string& token, std::uint64_t offset,
                       const sha256_digest& digest);
/// Tells an upload created without its length (creation-defer-length) the whole file's length
/// and sha256, on a PATCH.
void set_final_length(http_request& r, std::uint64_t size, const std::string& sha256_hex);

std::optional<std::uint64_t> header_u64(const http_response& r, std::string_view name);

/// The Location of a created upload as a request target on the configured receiver; empty
/// when it points elsewhere. The receiver answers with its own path, which lacks the prefix
/// of a BACKUP_API_URL behind a reverse proxy (https://host/pgship): that prefix is added.
std::string location_target(std::string_view location, const receiver_endpoint& ep);

/// SHA-256 of bytes [offset, offset + length) of `fd`; nullopt when they cannot be read.
std::optional<sha256_digest> hash_range(int fd, std::uint64_t offset, std::uint64_t length);

}  // namespace pgship::agent

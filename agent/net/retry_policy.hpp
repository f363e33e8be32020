#pragma once
// Which receiver answers are worth another try, and how long to wait before it: exponential
// backoff from RETRY_DELAY with jitter, so agents that failed together do not retry together.

#include <chrono>
#include <optional>

#include <pgship/common/errors.hpp>
#include <pgship/common/wire/errors.hpp>

namespace pgship::agent {

enum class reply_class { success, retry, permanent };

/// For a tus or upload response: 2xx success; 408, 409 offset_mismatch, 423, 429, 460
/// (checksum mismatch) and 5xx other than 507 retry; every other status is permanent. `error`
/// is the JSON `error` field of the body parsed (409 means "offset moved" only when it is
/// offset_mismatch).
reply_class classify_reply(unsigned status, std::optional<wire::api_error> error);

/// The catalogue code of a permanent refusal: 401/403 receiver_auth_failed (but a 403
/// `conflict`, an APPEND_ONLY receiver refusing to overwrite, is upload_rejected), 422
/// hash_mismatch, everything else upload_rejected.
errc refusal_code(unsigned status, std::optional<wire::api_error> error);

/// Wait before retry number `retry` (1-based): first * 2^(retry-1), scaled by a factor in
/// [0.5, 1.0] drawn from `unit_random` in [0, 1); capped at 10 minutes.
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds first, int retry,
                                        double unit_random);

}  // namespace pgship::agent

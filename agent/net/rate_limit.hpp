#pragma once
// UPLOAD_RATE_LIMIT: one byte_rate_limiter every upload byte of the agent passes through, so a
// backup need not saturate a trading server's link.

#include <cstdint>
#include <memory>

#include <pgship/common/io/byte_rate_limiter.hpp>

namespace pgship::agent {

using io::byte_rate_limiter;

/// The agent-wide limiter for `bytes_per_second` (one per process, shared by every upload);
/// null when unlimited (0).
std::shared_ptr<byte_rate_limiter> upload_rate_limiter(std::uint64_t bytes_per_second);

}  // namespace pgship::agent

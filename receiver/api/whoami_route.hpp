#pragma once
// GET /api/backup/whoami (any valid token): the token's client and scopes, and whether this
// client can upload now. What an agent asks before it uploads instead of receiver-wide
// /health: a scrub finding or another client's quota never says no here.

#include <cstdint>
#include <memory>
#include <optional>

#include <pgship/common/http/router.hpp>
#include <pgship/common/whoami.hpp>

#include "policy/storage_state.hpp"
#include "state/context.hpp"
#include "state/tokens.hpp"

namespace pgship::receiver {

void add_whoami_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

/// The answer for `who`: no upload scope, storage not writable, free space below
/// MIN_FREE_BYTES, or `quota_left` (nullopt: no QUOTA_BYTES) used up, checked in that order;
/// `reason` names the first that holds.
wire::whoami_reply whoami_of(const principal& who, const storage_state& state,
                             std::optional<std::uint64_t> quota_left);

}  // namespace pgship::receiver

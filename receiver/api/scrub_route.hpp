#pragma once
// POST /api/backup/scrub (admin scope).

#include <memory>

#include <pgship/common/http/router.hpp>

#include "policy/scrub.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

/// Starts a scrub now; 202 either way, saying whether one was already running.
void add_scrub_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx,
                     std::shared_ptr<scrubber> scrub);

}  // namespace pgship::receiver

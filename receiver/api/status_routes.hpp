#pragma once
// GET /health (ok 200 / degraded 503 with the reason), GET /readyz (200 while the storage takes
// writes, 503 otherwise; a scrub finding or low free space never fails it) and GET /metrics.
// No token needed.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_status_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

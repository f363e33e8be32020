#pragma once
// GET /health (ok 200 / degraded 503 with the reason) and GET /metrics. No token needed.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "context.hpp"

namespace pgship::receiver {

void add_status_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

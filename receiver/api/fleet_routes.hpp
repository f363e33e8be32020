#pragma once
// The receiver as the fleet's one view (README "Status page"): POST /api/backup/reports (an
// agent's drill results and schedule; upload or read scope), GET /api/status (read: the
// token's client, every client's for admin) and, with STATUS_PAGE=on, GET / (the static page
// that draws /api/status with a token the viewer enters; it holds no data).

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_fleet_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

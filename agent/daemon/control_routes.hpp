#pragma once
// The daemon's HTTP API (DESIGN.md "Agent HTTP API"): /health, /livez, /metrics, and
// POST /api/v1/backups, GET /api/v1/runs[/{id}] for operators.

#include <pgship/common/http/router.hpp>

#include "daemon/daemon_state.hpp"

namespace pgship::agent {

void add_control_routes(http_server::router& routes, daemon_state& state);

}  // namespace pgship::agent

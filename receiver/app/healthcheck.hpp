#pragma once
// `pgship-receiver healthcheck`: asks the running server over loopback.

#include "state/settings.hpp"

namespace pgship::receiver {

/// GET /readyz on the configured port over loopback (/health when the server is older than
/// /readyz), or GET /health when `full`; 0 when that is 200. Readiness is what a container
/// health check acts on (compose's `service_healthy`, a restart): a scrub finding or low free
/// space must not take a serving receiver down.
int healthcheck(const settings& s, bool full = false);

}  // namespace pgship::receiver

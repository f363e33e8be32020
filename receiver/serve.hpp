#pragma once
// `pgship-receiver serve`: builds the routes and runs the server until SIGTERM/SIGINT.

#include <functional>

#include "settings.hpp"

namespace pgship::receiver {

/// Runs until a stop signal; returns the process exit code. Throws config_error for
/// start-up misconfiguration (unreadable tokens file, bad TLS files, no tokens at all).
/// SIGHUP calls `reload` (the configuration read again) and applies its tokens and TLS files.
int serve(const settings& s, std::function<settings()> reload = nullptr);

/// `pgship-receiver healthcheck`: GET /readyz on the configured port over loopback (/health
/// when the server is older than /readyz), or GET /health when `full`; 0 when that is 200.
/// Readiness is what a container health check acts on (compose's `service_healthy`, a
/// restart): a scrub finding or low free space must not take a serving receiver down.
int healthcheck(const settings& s, bool full = false);

}  // namespace pgship::receiver

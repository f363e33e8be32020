#pragma once
// `pgship-receiver serve`: builds the routes and runs the server until SIGTERM/SIGINT.

#include "settings.hpp"

namespace pgship::receiver {

/// Runs until a stop signal; returns the process exit code. Throws config_error for
/// start-up misconfiguration (unreadable tokens file, bad TLS files, no tokens at all).
int serve(const settings& s);

/// `pgship-receiver healthcheck`: GET /health on the configured port over loopback; 0 when ok.
int healthcheck(const settings& s);

}  // namespace pgship::receiver

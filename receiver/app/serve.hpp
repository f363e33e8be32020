#pragma once
// `pgship-receiver serve`: builds the routes and runs the server until SIGTERM/SIGINT.

#include <functional>

#include "state/settings.hpp"

namespace pgship::receiver {

/// Runs until a stop signal; returns the process exit code. Throws config_error for
/// start-up misconfiguration (unreadable tokens file, bad TLS files, no tokens at all).
/// SIGHUP calls `reload` (the configuration read again) and applies its tokens and TLS files.
int serve(const settings& s, std::function<settings()> reload = nullptr);

}  // namespace pgship::receiver

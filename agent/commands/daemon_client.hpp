#pragma once
// A one-shot command talking to the daemon that runs beside it: its control API on
// LISTEN_ADDR:HEALTHCHECK_PORT as reached from this host, CONTROL_TOKEN as the bearer when set.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "settings.hpp"

namespace pgship::agent {

/// LISTEN_ADDR (its loopback when it is a wildcard) and HEALTHCHECK_PORT.
receiver_endpoint daemon_endpoint(const settings& cfg);

/// GET `target` from the daemon (5 s timeout); receiver_unreachable when none listens.
boost::asio::awaitable<http_outcome> get_from_daemon(const settings& cfg, std::string target);

}  // namespace pgship::agent

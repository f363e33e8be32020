#pragma once
// The server's TLS context from TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE, at start-up
// and again on SIGHUP.

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include <pgship/common/http/net.hpp>

#include "state/settings.hpp"

namespace pgship::receiver {

/// Null without TLS_CERT_FILE; throws config_error when a file does not load.
std::shared_ptr<net::ssl::context> make_tls_context(const settings& s);

}  // namespace pgship::receiver

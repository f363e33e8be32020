#pragma once
// Who may do what: the rate limits, the failed-login limit and the bearer token's scope,
// checked before any route does its work.

#include <optional>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/http/exchange.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

/// Checks the limits and the bearer token for `needed` (nullopt: any valid token): 429 +
/// Retry-After while the client IP is blocked for failed logins or over RATE_LIMIT, or the
/// token's client is; 401 (missing or unknown token, counted against the IP's
/// AUTH_FAILURE_LIMIT) or 403 (token without that scope). Each refusal is counted and logged
/// with the peer address, and nullopt returned. On success names the client in the access log.
net::awaitable<std::optional<principal>> authorize(http_server::exchange& ex, receiver_context& ctx,
                                                   std::optional<scope> needed);

}  // namespace pgship::receiver

#pragma once
// SIGHUP: the tokens (BACKUP_API_TOKEN, API_TOKENS_FILE) and the TLS certificate, key and
// client CA are read again. Requests in flight keep what they started with; anything that does
// not load is logged and the old settings stay. The process never dies of it.

#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>

#include <pgship/common/http/server.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

/// Waits for SIGHUP on `hup`, again and again; `reload` reads the configuration afresh.
net::awaitable<void> reload_on_sighup(net::signal_set& hup, std::shared_ptr<receiver_context> ctx,
                                      http_server::server& server, const settings& started,
                                      std::function<settings()> reload);

}  // namespace pgship::receiver

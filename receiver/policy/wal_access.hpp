#pragma once
// The checks every physical-archive route starts with: the token for its scope, an archive in
// this receiver's storage, a system identifier in the route.

#include <boost/asio/awaitable.hpp>

#include <pgship/common/http/exchange.hpp>

#include "state/context.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {

/// The token's client's archive, with `key` set to that client and the route's {system};
/// nullptr once it answered: 401/403/429 (authorize), 501 `wal_unsupported` when the storage
/// keeps no physical archive, 400 `invalid_system` for a system that is not 1 to 20 digits.
net::awaitable<wal_store*> open_wal_archive(http_server::exchange& ex, receiver_context& ctx,
                                            scope needed, wal_key& key);

}  // namespace pgship::receiver

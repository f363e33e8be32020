#pragma once
// The ship queue's sender in the agent: a sealed unit as wal_api PUTs it.

#include <boost/asio/awaitable.hpp>

#include "net/wal_api.hpp"
#include "wal/sealed_unit.hpp"
#include "wal/ship_queue.hpp"

namespace pgship::agent::wal {

/// The wire's view of `unit`: `stored` points into unit.stored, so `unit` must outlive it.
wal_unit_put to_put(const sealed_unit& unit);

/// PUTs `unit` through `api`; both must outlive the await (the queue keeps its head in place
/// while it is being sent).
boost::asio::awaitable<wal_api::put_outcome> put_sealed_unit(wal_api& api, const sealed_unit& unit);

/// A ship_queue::sender that PUTs through `api`, which must outlive the queue's run().
ship_queue::sender send_through(wal_api& api);

}  // namespace pgship::agent::wal

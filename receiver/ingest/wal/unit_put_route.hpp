#pragma once
// PUT /api/wal/{system}/units/{name}: one sealed unit (or a timeline history file) of the
// physical archive, as a raw body of at most wire::wal::max_unit_bytes. The body streams to a
// spool file like a raw upload's, under the same admission (rate limits, an upload slot,
// MIN_FREE_BYTES, QUOTA_BYTES); it is checked against X-Content-SHA256 and stored create-only by
// stem (storage/wal_store.hpp). The 2xx goes out only once the file is durable: the agent reports
// it to PostgreSQL as flushed, and the replication slot then lets the WAL go.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_wal_put_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

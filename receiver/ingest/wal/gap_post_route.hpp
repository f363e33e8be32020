#pragma once
// POST /api/wal/{system}/gaps: the agent records WAL the archive will never hold (the server
// removed it before it was streamed: a lost slot). JSON wire::wal::gap_record; create-only by
// timeline and range, so the same gap posted again is 200 and changes nothing (201 the first
// time). 404 when the system has no archive. The state route lists the gaps; the receiver's
// pgship_receiver_wal_gaps counts them.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_wal_gap_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

#pragma once
// PUT /api/wal/{system}/basebackups/{id}: a base backup's completion mark (upload scope; JSON
// wire::wal::basebackup_mark, {id} the backup's name pgdata-<stamp>.base.tar[...]). Accepted
// only when the client's backup {id} is stored and the archive's index holds the WAL from
// start_lsn to stop_lsn on the mark's timeline: 201, or 200 for the same mark again; else 409
// wal_incomplete (409 conflict for another mark of the same id). The mark is what makes the
// base backup complete: the archive state lists it and the PITR window starts at its stop time.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_wal_mark_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

#pragma once
// The read side of the physical archive (wire/wal.hpp), each keyed by the token's client:
//   GET|HEAD /api/wal/{system}/units/{name}     a stored file's bytes (Range, ETag, and
//                                               X-Wal-Plaintext-SHA256)
//   GET /api/wal/{system}/segments/{file}       the units restore_command joins (segment_chain)
//   GET /api/wal/{system}/bundles/{file}        those units' records and stored bytes in one
//                                               answer (wire/wal.hpp), what wal-fetch reads
//   GET /api/wal/{system}                       the archive's state (state/wal_index)

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_wal_read_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

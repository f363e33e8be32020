#pragma once
// Resumable uploads, tus 1.0.0 with the creation, checksum (sha256), termination and
// expiration extensions, at /api/backup/uploads. What lives on disk is in tus_store.hpp; the
// durable offset is the data file's size, so an upload survives a receiver crash and resumes
// where its bytes end.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "ingest/tus/tus_store.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

/// Registers the routes; the returned state is shared with the housekeeping sweep.
std::shared_ptr<tus_uploads> add_tus_routes(http_server::router& routes,
                                            std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

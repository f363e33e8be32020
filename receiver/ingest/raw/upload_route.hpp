#pragma once
// POST /api/backup/upload: one streamed request, raw body (X-Backup-Name, optional
// X-Content-SHA256) or multipart/form-data with a `file` part (and optional `sha256` field),
// as `curl -F file=@x.dump` sends it.

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_upload_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

}  // namespace pgship::receiver

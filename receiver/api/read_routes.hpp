#pragma once
// The read side and deletion: GET /api/backup/list, GET /api/backup/download/{id} (and
// {id}.sha256, and {id}.manifest: manifest_routes.hpp), DELETE /api/backup/{id} (the backup's
// manifest goes with it).

#include <memory>

#include <pgship/common/http/router.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

void add_read_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx);

/// A parsed single `Range: bytes=` header against a file of `size` bytes.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};
enum class range_result { none, ok, unsatisfiable };
/// RFC 9110 single ranges: "bytes=a-b", "bytes=a-", "bytes=-n". Several ranges or another
/// unit are treated as no Range header (the whole file is sent).
range_result parse_range(std::string_view header, std::uint64_t size, byte_range& out);

}  // namespace pgship::receiver

#pragma once
// The resumable upload of a finished file, a tus 1.0 client. Creates the upload with the
// whole-file SHA-256 in its metadata, PATCHes UPLOAD_CHUNK_SIZE pieces each with its own
// checksum, and after a failure asks the receiver (HEAD) what it holds and continues from
// there, so a cut connection costs at most one chunk. Retries back off exponentially with
// jitter; a 429/503 with Retry-After is waited out without spending one.

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "net/upload_job.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// Uploads `request.file` with its retries; `out` says what it did and where it stands.
boost::asio::awaitable<stage_error> tus_upload_file(http_client& client,
                                                    const upload_request& request,
                                                    const upload_watch& watch, upload_output& out);

}  // namespace pgship::agent

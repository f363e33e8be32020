#pragma once
// The resumable upload of a finished file, a tus 1.0 client. Creates the upload with the
// whole-file SHA-256 in its metadata, PATCHes UPLOAD_CHUNK_SIZE pieces each with its own
// checksum, and after a failure asks the receiver (HEAD) what it holds and continues from
// there, so a cut connection costs at most one chunk. Retries back off exponentially with
// jitter; a 429/503 with Retry-After is waited out without spending one.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

#include "net/http_client.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

struct upload_request {
  std::filesystem::path file;
  std::string name;        // the backup's file name, as the receiver will store it
  std::string sha256_hex;  // of the whole file
  std::string token;       // BACKUP_API_TOKEN
  // The receiver's unfinished upload of this file from an earlier run (its path, as the
  // manifest kept it): asked for its offset first and continued, else a new upload is made.
  std::string resume_at;
  std::uint64_t chunk_size = 16 * 1024 * 1024;
  int max_retries = 3;
  std::chrono::milliseconds retry_delay{5000};
  std::chrono::seconds progress_interval{5};
  log::context log;  // run_id and database on every line
};

struct upload_output {
  std::uint64_t size = 0;
  std::uint64_t bytes_sent = 0;  // body bytes written, re-sent ones included
  int retries = 0;
  int resumes = 0;  // continued from a non-zero offset after a failure
  bool already_stored = false;
  // Where the upload stands on the receiver when the stage ends: for a failed upload, what a
  // later run passes as resume_at ("" when there is nothing to continue).
  std::string location;
};

/// How the run an upload belongs to follows it: asked between chunks and waits whether to
/// stop, told of every body byte sent.
struct upload_watch {
  std::function<bool()> stopping;
  std::function<void(std::size_t)> sent;
};

/// Waits `delay` unless `stopping` says so meanwhile; false when it did.
boost::asio::awaitable<bool> sleep_unless(std::chrono::milliseconds delay,
                                          const std::function<bool()>& stopping);

/// Uploads `request.file` with its retries; `out` says what it did and where it stands.
boost::asio::awaitable<stage_error> tus_upload_file(http_client& client,
                                                    const upload_request& request,
                                                    const upload_watch& watch, upload_output& out);

}  // namespace pgship::agent

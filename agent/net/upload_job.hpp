#pragma once
// What an upload of a file is given and gives back, whatever its protocol: the request (file,
// name, sha256, token, where an earlier attempt left it, retries), the outcome (bytes sent,
// retries, resumes, where it stands on the receiver), how the run follows it, and the wait
// between attempts that a stop cuts short.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/log.hpp>

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

}  // namespace pgship::agent

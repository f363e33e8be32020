#pragma once
// The upload that runs while pg_dump writes (tus creation-defer-length). It is created before
// the dump starts, PATCHes each UPLOAD_CHUNK_SIZE piece of the partial file once the dump has
// written it (reading behind the writer), and sends the rest, with Upload-Length and the
// whole file's sha256, only after the dump verified: the receiver never commits a backup that
// did not. A failed dump or verify ends it (DELETE on the receiver, nothing committed); a
// failed PATCH stops it, and the regular upload, with its retries, continues it from the
// receiver's offset after the dump.

#include <cstdint>
#include <filesystem>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/http_client.hpp"
#include "net/tus_deferred.hpp"
#include "net/upload_job.hpp"
#include "pipeline/run_control.hpp"

namespace pgship::agent {

class follow_upload {
 public:
  /// `request.file` is the partial file the dump writes; name, token, chunk size and log are
  /// used as by run_upload.
  follow_upload(http_client& client, upload_request request, run_control& control,
                boost::asio::any_io_executor ex);
  ~follow_upload();

  /// Creates the upload; false (logged) when the receiver refused or is unreachable.
  boost::asio::awaitable<bool> begin() { return tus_.create(); }
  /// PATCHes whole chunks as the file grows, until dump_ended() (or a failure).
  boost::asio::awaitable<void> follow();
  /// From the dump: the file now holds `bytes`.
  void grew(std::uint64_t bytes);
  /// The dump is over, whatever its outcome: follow() returns once its PATCH in flight ends.
  void dump_ended();
  /// After verify: the rest of `file` (the committed path) with the length and sha256. True
  /// when the receiver committed it; false (logged) otherwise, with `out.location` the upload
  /// for the regular uploader to continue.
  boost::asio::awaitable<bool> finish(const std::filesystem::path& file, std::uint64_t size,
                                      const std::string& sha256_hex, upload_output& out);
  /// Ends the upload on the receiver (DELETE): a failed dump or verify leaves nothing open.
  boost::asio::awaitable<void> abandon() { return tus_.remove(); }
  bool failed() const { return failed_; }
  /// The upload's target on the receiver (empty before begin() or after finish()).
  const std::string& location() const { return tus_.location(); }
  /// The bytes the receiver holds of it so far.
  std::uint64_t offset() const { return tus_.offset(); }

 private:
  bool open_file(const std::filesystem::path& path);

  upload_request req_;
  run_control& control_;
  boost::asio::steady_timer wake_;
  tus_deferred tus_;  // on req_
  int fd_ = -1;
  std::uint64_t written_ = 0;  // what the dump has written so far
  bool dump_done_ = false;
  bool failed_ = false;
  bool waiting_ = false;
};

}  // namespace pgship::agent

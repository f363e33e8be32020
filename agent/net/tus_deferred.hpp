#pragma once
// The tus requests of an upload created before its length is known (creation-defer-length),
// as the upload that follows pg_dump makes them: the creation, PATCHes of ranges of the file
// as it grows, the last one with Upload-Length and the whole file's sha256 (the receiver
// commits only then), and the DELETE of an upload given up. Any refusal, a 429 included, is
// logged and answered false: the caller's regular upload (tus_upload.hpp), with its retries,
// continues from the receiver's offset.

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "net/upload_job.hpp"

namespace pgship::agent {

class tus_deferred {
 public:
  /// `request` gives the name, token and log (and the file's name for messages); it must
  /// outlive this.
  tus_deferred(http_client& client, const upload_request& request);

  /// Creates the upload; false (logged) when the receiver refused or is unreachable.
  boost::asio::awaitable<bool> create();
  /// PATCHes `length` bytes of `fd` at the receiver's offset; `last`: with the file's `size`
  /// and `sha256_hex`. False (logged) when the receiver did not take them all.
  boost::asio::awaitable<bool> patch(int fd, std::uint64_t length, bool last, std::uint64_t size,
                                     const std::string& sha256_hex);
  /// Ends the upload on the receiver (DELETE); a failure is logged, the upload expires there.
  boost::asio::awaitable<void> remove();
  /// Forgets the upload, left to whoever continues it.
  void forget() { location_.clear(); }

  /// The upload's target on the receiver (empty before create() or after forget()).
  const std::string& location() const { return location_; }
  /// What the receiver holds.
  std::uint64_t offset() const { return offset_; }
  /// The body bytes sent since the last call.
  std::uint64_t take_bytes_sent();

 private:
  http_client& client_;
  const upload_request& req_;
  std::string location_;
  std::uint64_t offset_ = 0;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace pgship::agent

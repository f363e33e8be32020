#pragma once
// A multipart upload fed from a spool file while the file is still being written: each part
// goes up as soon as its bytes have arrived, on the parts pool, one part at a time and in
// order, so a commit after the last byte waits for the last part only. Parts are read back
// from the spool (page cache, 1 MiB at a time: memory stays flat), their SHA-256 is signed
// (the engine refuses a part that does not match), and the same read feeds a whole-file
// SHA-256 that must equal the hash taken on arrival before the upload is completed.
//
// Part sizes grow: 8 MiB for the first 1000 parts, doubling every 1000 parts after, so that
// 10,000 parts hold 7.9 TiB (S3 objects end at 5 TiB) and no part passes 5 GiB.
//
// The upload id is written to a journal file in the spool while the upload is open, so a
// receiver killed mid-upload aborts it at its next start.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/sha256.hpp>

#include "s3/bucket.hpp"

namespace pgship::receiver::s3 {

/// Part `index` (0-based) holds this many bytes, except the last one.
std::uint64_t part_size(std::size_t index);

class part_shipper : public std::enable_shared_from_this<part_shipper> {
 public:
  /// `create_headers` go on CreateMultipartUpload (object lock); `md5_parts` adds Content-MD5
  /// to each part (object lock needs it). `spooled` need not exist yet.
  part_shipper(bucket& b, boost::asio::thread_pool& pool, std::string key,
               header_list create_headers, bool md5_parts, const std::filesystem::path& spooled,
               std::filesystem::path journal);
  ~part_shipper();
  part_shipper(const part_shipper&) = delete;
  part_shipper& operator=(const part_shipper&) = delete;

  /// The spool file holds `size` stable bytes. Never blocks.
  void grew(std::uint64_t size);
  /// Whether parts are going up (the object is being written as a multipart upload).
  bool started() const;
  /// On the calling thread: ships what is left of `size` bytes, checks their SHA-256 against
  /// `digest` and completes the upload. Nothing is visible at `key` unless this succeeds.
  std::error_code finish(std::uint64_t size, const sha256_digest& digest);
  /// Aborts the upload (on the pool, not blocking) unless finish() succeeded.
  void abandon();

 private:
  void pump();
  // With the lock held: the next part to ship, if one is ready.
  bool next_part(std::uint64_t& offset, std::uint64_t& length) const;
  std::error_code ship(std::uint64_t offset, std::uint64_t length);
  void abort_upload();

  bucket& bucket_;
  boost::asio::thread_pool& pool_;
  const std::string key_;
  const header_list create_headers_;
  const bool md5_parts_;
  const std::filesystem::path spooled_;
  const std::filesystem::path journal_;
  int fd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::uint64_t available_ = 0;  // stable bytes in the spool file
  std::uint64_t shipped_ = 0;    // bytes in parts that went up
  bool busy_ = false;            // a thread is shipping
  bool finishing_ = false;
  bool done_ = false;     // completed or aborted: nothing more to do
  bool started_ = false;  // the multipart upload exists
  bool abort_when_idle_ = false;
  std::error_code failed_;

  // Touched only by the thread that is busy_.
  std::string upload_id_;
  std::vector<std::string> etags_;
  sha256 whole_;
};

}  // namespace pgship::receiver::s3

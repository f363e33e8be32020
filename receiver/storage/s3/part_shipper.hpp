#pragma once
// A multipart upload fed from a spool file while the file is still being written: each part
// goes up as soon as its bytes have arrived, so a commit after the last byte waits for the
// last part only. Parts are read back from the spool (page cache, 1 MiB at a time: memory
// stays flat) in order by one preparer, which hashes each (the part's SHA-256 is signed, and
// the engine refuses a part that does not match) and feeds the same bytes to a whole-file
// SHA-256 that must equal the hash taken on arrival before the upload is completed. Up to
// `parts_in_flight` prepared parts are sent at once: an engine's per-request cost (~30 ms for
// Swift) is paid side by side, not one part after the other.
//
// Part sizes grow: 16 MiB for the first 1000 parts, doubling every 1000 parts up to 4 GiB, so
// 10,000 parts hold 11.9 TiB (S3 objects end at 5 TiB) and no part passes S3's 5 GiB.
//
// The upload id is written to a journal file in the spool while the upload is open, so a
// receiver killed mid-upload aborts it at its next start.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/sha256.hpp>

#include "storage/s3/bucket.hpp"

namespace pgship::receiver::s3 {

/// Part `index` (0-based) holds this many bytes, except the last one.
std::uint64_t part_size(std::size_t index);

class part_shipper : public std::enable_shared_from_this<part_shipper> {
 public:
  static constexpr int parts_in_flight = 3;

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
  /// Instead of grew(): the upload's bytes in order, once they are in the spool file, from one
  /// thread at a time. Each part's SHA-256 is taken from them, so no part is read back to be
  /// hashed; the engine's check of each part then ties the stored bytes to the arriving ones,
  /// and the whole-file check is the arrival hash's. Never blocks.
  void arrived(std::string_view bytes);
  /// Whether parts are going up (the object is being written as a multipart upload).
  bool started() const;
  /// On the calling thread: ships what is left of `size` bytes, checks their SHA-256 against
  /// `digest` and completes the upload. Nothing is visible at `key` unless this succeeds.
  /// `etag`: what the completed object's ETag must be (md5 of the parts' MD5s, "-N"), or ""
  /// when the engine's part ETags are not MD5s.
  std::error_code finish(std::uint64_t size, const sha256_digest& digest, std::string& etag);
  /// Aborts the upload (on the pool, not blocking) unless finish() succeeded.
  void abandon();

 private:
  struct part {
    std::size_t index = 0;
    std::uint64_t offset = 0, length = 0;
    std::string sha256, md5;
  };
  // Prepares and dispatches parts while some are ready and fewer than parts_in_flight are
  // out. Called with the lock held by the thread that set preparing_; returns with it held.
  void prepare_ready(std::unique_lock<std::mutex>& lock);
  // With the lock held: the next part to prepare, if one is ready.
  bool next_part(std::uint64_t& offset, std::uint64_t& length) const;
  // Reads and hashes one part (without the lock: only the preparer touches whole_).
  std::error_code prepare(part& p);
  void send(const part& p);
  // Arrival mode, with the lock held: sends ready parts while there is room, creating the
  // upload first.
  void dispatch_arrived(std::unique_lock<std::mutex>& lock);
  // Opens the spool file and creates the multipart upload, journalling its id.
  std::error_code open_upload(std::string& id);
  void create_upload();
  std::error_code finish_arrived(std::uint64_t size, std::string& etag);
  // The part the arriving bytes filled so far (arrival thread, or finish() after the last byte).
  part close_arrival_part();
  // CompleteMultipartUpload once every part is up; the upload is then done.
  std::error_code complete(std::string& etag);
  void pump();
  // With the lock held: abandoned and nothing at work any more.
  bool abort_due() const;
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
  std::condition_variable changed_;
  std::uint64_t available_ = 0;  // stable bytes in the spool file
  std::uint64_t prepared_ = 0;   // bytes in parts prepared (hashed and sent or being sent)
  int in_flight_ = 0;            // parts being sent
  bool preparing_ = false;       // a thread prepares parts
  bool finishing_ = false;       // finish() prepares the rest itself
  bool done_ = false;            // completed or abandoned: nothing more to ship
  bool abandoned_ = false;
  bool aborted_ = false;
  std::error_code failed_;
  std::string upload_id_;           // set by the first preparer, before any send
  std::vector<std::string> etags_;  // by part index
  sha256 whole_;                    // only the preparer touches it

  // Arrival mode (arrived() instead of grew()).
  bool arrival_ = false;
  bool creating_ = false;    // a job creates the multipart upload
  std::deque<part> hashed_;  // hashed on arrival, not yet sent
  sha256 arrival_part_;      // touched only by arrived() and, after the last byte, finish()
  std::uint64_t arrival_fill_ = 0;
  std::uint64_t arrived_ = 0;
  std::size_t arrival_parts_ = 0;
};

}  // namespace pgship::receiver::s3

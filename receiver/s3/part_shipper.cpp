#include "s3/part_shipper.hpp"
#include <algorithm>

#include <boost/asio/post.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>

namespace pgship::receiver::s3 {

std::uint64_t part_size(std::size_t index) {
  constexpr std::uint64_t first = 8ull << 20;
  return first << std::min<std::size_t>(index / 1000, 9);
}

part_shipper::part_shipper(bucket& b, boost::asio::thread_pool& pool, std::string key,
                           header_list create_headers, bool md5_parts,
                           const std::filesystem::path& spooled, std::filesystem::path journal)
    : bucket_(b),
      pool_(pool),
      key_(std::move(key)),
      create_headers_(std::move(create_headers)),
      md5_parts_(md5_parts),
      spooled_(spooled),
      journal_(std::move(journal)) {}

part_shipper::~part_shipper() {
  if (fd_ >= 0) ::close(fd_);
}

bool part_shipper::next_part(std::uint64_t& offset, std::uint64_t& length) const {
  if (done_ || failed_) return false;
  const auto size = part_size(etags_.size());
  const auto left = available_ - shipped_;
  // A part that is not the last must be whole; the last one may be short (or empty, for an
  // upload that never started).
  if (left < size && !(finishing_ && left > 0)) return false;
  offset = shipped_;
  length = std::min(size, left);
  return true;
}

void part_shipper::grew(std::uint64_t size) {
  std::lock_guard lock(mutex_);
  available_ = std::max(available_, size);
  std::uint64_t offset = 0, length = 0;
  if (busy_ || !next_part(offset, length)) return;
  busy_ = true;
  boost::asio::post(pool_, [self = shared_from_this()] { self->pump(); });
}

bool part_shipper::started() const {
  std::lock_guard lock(mutex_);
  // A pump at work counts: its multipart upload may be on its way.
  return started_ || busy_;
}

void part_shipper::pump() {
  std::unique_lock lock(mutex_);
  std::uint64_t offset = 0, length = 0;
  // finish() takes over from a pump once it runs: the remaining parts go up on its thread.
  while (!finishing_ && next_part(offset, length)) {
    lock.unlock();
    const auto ec = ship(offset, length);
    lock.lock();
    if (ec) failed_ = ec;
  }
  busy_ = false;
  idle_.notify_all();
  if (abort_when_idle_) {
    abort_when_idle_ = false;
    lock.unlock();
    abort_upload();
  }
}

void part_shipper::abort_upload() {
  if (upload_id_.empty()) return;
  if (!bucket_.abort_multipart(key_, upload_id_)) {
    std::error_code ignored;
    std::filesystem::remove(journal_, ignored);
  }
}

std::error_code part_shipper::ship(std::uint64_t offset, std::uint64_t length) {
  // Opened here, not before: the spool file may not exist yet when the upload begins.
  if (fd_ < 0 && (fd_ = ::open(spooled_.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    return {errno, std::generic_category()};
  }
  if (upload_id_.empty()) {
    if (auto ec = bucket_.create_multipart(key_, create_headers_, upload_id_)) return ec;
    // A receiver killed from here on aborts this upload at its next start.
    fs::write_file_atomically(journal_, key_ + "\n" + upload_id_ + "\n");
    std::lock_guard lock(mutex_);
    started_ = true;
  }
  // Read once to hash (the part's signature needs its SHA-256 before the body goes), then
  // again as it is sent: both reads come from the page cache.
  sha256 part;
  std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 20)));
  for (std::uint64_t done = 0; done < length;) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - done));
    const ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return n < 0 ? std::error_code{errno, std::generic_category()}
                   : std::make_error_code(std::errc::io_error);
    }
    part.update(buffer.data(), static_cast<std::size_t>(n));
    whole_.update(buffer.data(), static_cast<std::size_t>(n));
    done += static_cast<std::uint64_t>(n);
  }
  header_list headers;
  if (md5_parts_) {  // S3 wants Content-MD5 on writes with a retention
    const auto md5 = content_md5(fd_, offset, length);
    if (!md5) return std::make_error_code(std::errc::io_error);
    headers.emplace_back("content-md5", *md5);
  }
  std::string etag;
  const auto number = static_cast<int>(etags_.size() + 1);
  if (auto ec = bucket_.upload_part(key_, upload_id_, number, fd_, offset, length,
                                    to_hex(part.finish()), headers, etag)) {
    return ec;
  }
  etags_.push_back(etag);
  std::lock_guard lock(mutex_);
  shipped_ += length;
  return {};
}

std::error_code part_shipper::finish(std::uint64_t size, const sha256_digest& digest) {
  std::unique_lock lock(mutex_);
  finishing_ = true;
  available_ = size;
  idle_.wait(lock, [this] { return !busy_; });
  busy_ = true;  // ours from here on
  std::uint64_t offset = 0, length = 0;
  while (next_part(offset, length)) {
    lock.unlock();
    const auto ec = ship(offset, length);
    lock.lock();
    if (ec) failed_ = ec;
  }
  busy_ = false;
  if (failed_) return failed_;
  lock.unlock();
  // The bytes that went up are the ones hashed on arrival, or nothing is completed.
  if (whole_.finish() != digest) {
    spdlog::error("S3 upload {}: the spool file no longer hashes to the upload's sha256", key_);
    return std::make_error_code(std::errc::io_error);
  }
  if (auto ec = bucket_.complete_multipart(key_, upload_id_, etags_)) return ec;
  lock.lock();
  done_ = true;
  std::error_code ignored;
  std::filesystem::remove(journal_, ignored);
  return {};
}

void part_shipper::abandon() {
  std::lock_guard lock(mutex_);
  if (done_) return;
  done_ = true;  // no more parts
  // A pump at work aborts when its part is done; otherwise the pool does it now. Nobody
  // waits on the pool for a pump (a full pool would wait on itself).
  if (busy_) {
    abort_when_idle_ = true;
    return;
  }
  boost::asio::post(pool_, [self = shared_from_this()] { self->abort_upload(); });
}

}  // namespace pgship::receiver::s3

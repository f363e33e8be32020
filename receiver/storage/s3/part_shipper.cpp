#include "storage/s3/part_shipper.hpp"
#include <algorithm>

#include <boost/asio/post.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/io/file_io.hpp>

namespace pgship::receiver::s3 {

std::uint64_t part_size(std::size_t index) {
  constexpr std::uint64_t first = 16ull << 20;
  return first << std::min<std::size_t>(index / 1000, 8);
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
  const auto left = available_ - prepared_;
  // A part that is not the last must be whole; the last one may be short.
  if (left < size && !(finishing_ && left > 0)) return false;
  offset = prepared_;
  length = std::min(size, left);
  return true;
}

void part_shipper::grew(std::uint64_t size) {
  std::lock_guard lock(mutex_);
  available_ = std::max(available_, size);
  std::uint64_t offset = 0, length = 0;
  if (preparing_ || finishing_ || in_flight_ >= parts_in_flight || !next_part(offset, length)) {
    return;
  }
  preparing_ = true;
  boost::asio::post(pool_, [self = shared_from_this()] { self->pump(); });
}

void part_shipper::arrived(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto size = part_size(arrival_parts_);
    const auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), size - arrival_fill_));
    arrival_part_.update(bytes.substr(0, take));
    arrival_fill_ += take;
    arrived_ += take;
    bytes.remove_prefix(take);
    if (arrival_fill_ < size) break;
    auto p = close_arrival_part();
    std::unique_lock lock(mutex_);
    arrival_ = true;
    hashed_.push_back(std::move(p));
    dispatch_arrived(lock);
  }
}

part_shipper::part part_shipper::close_arrival_part() {
  part p{arrival_parts_++,
         arrived_ - arrival_fill_,
         arrival_fill_,
         to_hex(arrival_part_.finish()),
         {}};
  arrival_part_ = sha256{};
  arrival_fill_ = 0;
  return p;
}

void part_shipper::dispatch_arrived(std::unique_lock<std::mutex>& lock) {
  (void)lock;  // held by the caller
  if (done_ || failed_) return;
  if (upload_id_.empty()) {
    if (!creating_ && !hashed_.empty()) {
      creating_ = true;
      boost::asio::post(pool_, [self = shared_from_this()] { self->create_upload(); });
    }
    return;
  }
  while (in_flight_ < parts_in_flight && !hashed_.empty()) {
    auto p = std::move(hashed_.front());
    hashed_.pop_front();
    if (etags_.size() <= p.index) etags_.resize(p.index + 1);
    ++in_flight_;
    boost::asio::post(pool_, [self = shared_from_this(), p = std::move(p)] { self->send(p); });
  }
}

std::error_code part_shipper::open_upload(std::string& id) {
  // Opened here, not before: the spool file may not exist yet when the upload begins.
  if (fd_ < 0 && (fd_ = ::open(spooled_.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    return {errno, std::generic_category()};
  }
  if (auto ec = bucket_.create_multipart(key_, create_headers_, id)) return ec;
  // A receiver killed from here on aborts this upload at its next start.
  if (auto ec = fs::write_file_atomically(journal_, key_ + "\n" + id + "\n")) {
    spdlog::warn(
        "S3 upload {}: cannot journal its id ({}): a crash now would leave it open until the "
        "weekly sweep",
        key_, ec.message());
  }
  return {};
}

void part_shipper::create_upload() {
  std::string id;
  const auto ec = open_upload(id);
  std::unique_lock lock(mutex_);
  creating_ = false;
  if (ec) {
    if (!failed_) failed_ = ec;
  } else {
    upload_id_ = id;
    dispatch_arrived(lock);
  }
  changed_.notify_all();
  if (abort_due()) {
    lock.unlock();
    abort_upload();
  }
}

bool part_shipper::started() const {
  std::lock_guard lock(mutex_);
  return !upload_id_.empty() || preparing_ || arrival_;
}

void part_shipper::pump() {
  std::unique_lock lock(mutex_);
  prepare_ready(lock);
  preparing_ = false;
  changed_.notify_all();
  if (abort_due()) {
    lock.unlock();
    abort_upload();
  }
}

void part_shipper::prepare_ready(std::unique_lock<std::mutex>& lock) {
  part p;
  while (in_flight_ < parts_in_flight && next_part(p.offset, p.length)) {
    p.index = etags_.size();
    etags_.emplace_back();
    prepared_ += p.length;
    ++in_flight_;
    lock.unlock();
    auto ec = prepare(p);
    lock.lock();
    if (ec) {
      failed_ = ec;
      --in_flight_;
      break;
    }
    boost::asio::post(pool_, [self = shared_from_this(), p] { self->send(p); });
  }
}

std::error_code part_shipper::prepare(part& p) {
  if (upload_id_.empty()) {
    std::string id;
    if (auto ec = open_upload(id)) return ec;
    std::lock_guard lock(mutex_);
    upload_id_ = id;
  }
  // Read once to hash (the part's signature needs its SHA-256 before the body goes), then
  // again as it is sent: both reads come from the page cache.
  sha256 part_hash;
  std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(p.length, 1 << 20)));
  io::range_reader range(fd_, p.offset, p.length);
  for (std::size_t n = 0;;) {
    if (auto ec = range.read(buffer, n)) return ec;  // io_error: the spool file is shorter
    if (n == 0) break;
    part_hash.update(buffer.data(), n);
    whole_.update(buffer.data(), n);
  }
  p.sha256 = to_hex(part_hash.finish());
  if (md5_parts_) {  // S3 wants Content-MD5 on writes with a retention
    const auto md5 = content_md5(fd_, p.offset, p.length);
    if (!md5) return std::make_error_code(std::errc::io_error);
    p.md5 = *md5;
  }
  return {};
}

void part_shipper::send(const part& p) {
  header_list headers;
  if (!p.md5.empty()) headers.emplace_back("content-md5", p.md5);
  if (md5_parts_ && p.md5.empty()) {  // arrival mode: from the spool file
    if (const auto md5 = content_md5(fd_, p.offset, p.length)) {
      headers.emplace_back("content-md5", *md5);
    }
  }
  std::string etag;
  std::error_code ec;
  {
    std::lock_guard lock(mutex_);
    if (abandoned_) ec = std::make_error_code(std::errc::operation_canceled);
  }
  if (!ec) {
    ec = bucket_.upload_part(key_, upload_id_, static_cast<int>(p.index + 1), fd_, p.offset,
                             p.length, p.sha256, headers, etag);
  }
  std::unique_lock lock(mutex_);
  --in_flight_;
  if (ec && !failed_) failed_ = ec;
  if (!ec) etags_[p.index] = etag;
  changed_.notify_all();
  // A slot is free: the next ready part goes, unless finish() prepares them itself.
  std::uint64_t offset = 0, length = 0;
  if (arrival_) {
    dispatch_arrived(lock);
    if (abort_due()) {
      lock.unlock();
      abort_upload();
    }
  } else if (!preparing_ && !finishing_ && next_part(offset, length)) {
    preparing_ = true;
    boost::asio::post(pool_, [self = shared_from_this()] { self->pump(); });
  } else if (abort_due()) {
    lock.unlock();
    abort_upload();
  }
}

namespace {

// S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then "-<parts>".
std::string multipart_etag(const std::vector<std::string>& part_etags) {
  std::string md5s;
  for (const auto& e : part_etags) {
    const auto bytes = digest_from_hex_md5(e);
    if (!bytes) return {};
    md5s += *bytes;
  }
  return md5_hex(md5s) + "-" + std::to_string(part_etags.size());
}

}  // namespace

std::error_code part_shipper::finish(std::uint64_t size, const sha256_digest& digest,
                                     std::string& etag) {
  if (arrived_ > 0) return finish_arrived(size, etag);
  std::unique_lock lock(mutex_);
  finishing_ = true;
  available_ = size;
  changed_.wait(lock, [this] { return !preparing_; });
  preparing_ = true;  // ours from here on
  for (;;) {
    if (abandoned_ && !failed_) failed_ = std::make_error_code(std::errc::operation_canceled);
    prepare_ready(lock);
    if (failed_ || prepared_ == available_) break;
    changed_.wait(lock, [this] { return in_flight_ < parts_in_flight || failed_; });
  }
  changed_.wait(lock, [this] { return in_flight_ == 0; });
  preparing_ = false;
  if (failed_) {
    const auto ec = failed_;
    if (abort_due()) {  // abandoned meanwhile: nobody else is left to abort
      lock.unlock();
      abort_upload();
    }
    return ec;
  }
  lock.unlock();
  // The bytes that went up are the ones hashed on arrival, or nothing is completed.
  if (whole_.finish() != digest) {
    spdlog::error("S3 upload {}: the spool file no longer hashes to the upload's sha256", key_);
    return std::make_error_code(std::errc::io_error);
  }
  return complete(etag);
}

std::error_code part_shipper::finish_arrived(std::uint64_t size, std::string& etag) {
  // Every byte has been seen (the body's hashing ended before the commit): the last part is
  // what is left over.
  if (arrived_ != size) {
    spdlog::error("S3 upload {}: {} bytes hashed for parts, the upload has {}", key_, arrived_,
                  size);
    return std::make_error_code(std::errc::io_error);
  }
  std::unique_lock lock(mutex_);
  finishing_ = true;
  if (arrival_fill_ > 0) hashed_.push_back(close_arrival_part());
  arrival_ = true;
  dispatch_arrived(lock);
  changed_.wait(lock, [this] {
    return failed_ || abandoned_ || (hashed_.empty() && in_flight_ == 0 && !creating_);
  });
  if (abandoned_ && !failed_) failed_ = std::make_error_code(std::errc::operation_canceled);
  if (failed_) {
    changed_.wait(lock, [this] { return in_flight_ == 0 && !creating_; });
    const auto ec = failed_;
    if (abort_due()) {
      lock.unlock();
      abort_upload();
    }
    return ec;
  }
  lock.unlock();
  return complete(etag);
}

std::error_code part_shipper::complete(std::string& etag) {
  if (auto ec = bucket_.complete_multipart(key_, upload_id_, etags_)) return ec;
  etag = multipart_etag(etags_);
  std::lock_guard lock(mutex_);
  done_ = true;
  aborted_ = true;  // nothing left to abort
  std::error_code ignored;
  std::filesystem::remove(journal_, ignored);
  return {};
}

bool part_shipper::abort_due() const {
  return abandoned_ && !aborted_ && !preparing_ && !creating_ && in_flight_ == 0;
}

void part_shipper::abandon() {
  std::lock_guard lock(mutex_);
  if (done_) return;
  done_ = true;  // no more parts
  abandoned_ = true;
  // Whoever finishes the last piece of work aborts; with none at work the pool does it now.
  // Nobody waits on the pool for another job (a full pool would wait on itself).
  if (abort_due()) {
    boost::asio::post(pool_, [self = shared_from_this()] { self->abort_upload(); });
  }
}

void part_shipper::abort_upload() {
  {
    std::lock_guard lock(mutex_);
    if (aborted_) return;
    aborted_ = true;
  }
  if (upload_id_.empty()) return;
  if (!bucket_.abort_multipart(key_, upload_id_)) {
    std::error_code ignored;
    std::filesystem::remove(journal_, ignored);
  }
}

}  // namespace pgship::receiver::s3

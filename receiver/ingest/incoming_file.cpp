#include "ingest/incoming_file.hpp"
#include <algorithm>
#include <cerrno>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/file_io.hpp>

namespace pgship::receiver {
namespace {
std::error_code last_error() {
  return {errno, std::generic_category()};
}
}  // namespace

incoming_file::~incoming_file() {
  close();
  if (!keep_ && !path_.empty()) ::unlink(path_.c_str());
}

incoming_file::incoming_file(incoming_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::exchange(other.path_, {})),
      size_(other.size_),
      written_back_(other.written_back_),
      keep_(other.keep_),
      write_back_(other.write_back_),
      report_writes_(other.report_writes_),
      staged_(std::move(other.staged_)) {}

incoming_file& incoming_file::operator=(incoming_file&& other) noexcept {
  if (this != &other) {
    this->~incoming_file();
    new (this) incoming_file(std::move(other));
  }
  return *this;
}

std::error_code incoming_file::create(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd_ < 0) return last_error();
  path_ = path;
  size_ = 0;
  return {};
}

std::error_code incoming_file::open_at(const std::filesystem::path& path, std::uint64_t offset) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) return last_error();
  path_ = path;
  keep_ = true;  // an existing resumable upload is not ours to delete on error
  if (auto ec = truncate(offset)) return ec;
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) return last_error();
  return {};
}

std::error_code incoming_file::write(std::string_view data) {
  const std::uint64_t before = size_;
  if (const auto ec = io::write_all(fd_, data)) {
    // All or nothing: the part of this write that landed (a disk that filled up) goes, so
    // a resumable upload's offset stays that of its running hash, which the next PATCH then
    // continues instead of reading the whole file again to rebuild it.
    truncate(before);
    return ec;
  }
  size_ += data.size();
  if (staged_ && report_writes_) staged_->grew(size_);
  // Start writeback as we go, so the fsync at commit has little left to flush and does not
  // stall the server for the whole file.
  constexpr std::uint64_t writeback_step = 32ull * 1024 * 1024;
  if (write_back_ && size_ - written_back_ >= writeback_step) {
    ::sync_file_range(fd_, static_cast<off_t>(written_back_),
                      static_cast<off_t>(size_ - written_back_), SYNC_FILE_RANGE_WRITE);
    written_back_ = size_;
  }
  return {};
}

std::error_code incoming_file::sync() {
  return ::fsync(fd_) == 0 ? std::error_code{} : last_error();
}

std::error_code incoming_file::truncate(std::uint64_t offset) {
  if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) return last_error();
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) return last_error();
  size_ = offset;
  written_back_ = std::min(written_back_, offset);
  return {};
}

void incoming_file::discard() {
  staged_.reset();  // abandoned: what it shipped is removed
  close();
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

void incoming_file::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace pgship::receiver

#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/file_io.hpp>

namespace pgship::io {
namespace {

// Start writeback every so often, so the final fdatasync does not wait for the whole file.
constexpr std::uint64_t writeback_interval = 32 * 1024 * 1024;

std::error_code last_error() {
  return {errno, std::generic_category()};
}

}  // namespace

std::error_code write_all(int fd, std::span<const char> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code file_writer::write(std::span<const char> data) {
  if (auto ec = write_all(fd_, data)) return ec;
  bytes_ += data.size();
  if (durable_ && bytes_ - synced_ >= writeback_interval) {
    ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(bytes_ - synced_),
                      SYNC_FILE_RANGE_WRITE);
    synced_ = bytes_;
  }
  return {};
}

std::error_code file_writer::finish() {
  if (durable_ && ::fdatasync(fd_) != 0) return last_error();
  return {};
}

new_file::new_file(std::filesystem::path path, std::error_code& ec)
    : path_(std::move(path)),
      fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)),
      writer_(fd_) {
  if (fd_ < 0) ec = last_error();
}

new_file::~new_file() {
  close();
}

void new_file::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::error_code new_file::finish() {
  const auto ec = writer_.finish();
  close();
  return ec;
}

void new_file::abort() {
  close();
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

std::error_code range_reader::read(std::span<char> buffer, std::size_t& got) {
  got = 0;
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left_, buffer.size()));
  if (want == 0) return {};
  for (;;) {
    const ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    if (n == 0) {
      if (exact_) return std::make_error_code(std::errc::io_error);  // shorter than asked
      left_ = 0;
      return {};
    }
    got = static_cast<std::size_t>(n);
    offset_ += got;
    left_ -= got;
    return {};
  }
}

std::error_code pump_file(int fd, sink& out, std::uint64_t offset,
                          std::optional<std::uint64_t> length, std::size_t block) {
  std::vector<char> buffer(block);
  range_reader reader(fd, offset, length);
  for (std::size_t n = 0;;) {
    if (auto ec = reader.read(buffer, n)) return ec;
    if (n == 0) break;
    if (auto ec = out.write({buffer.data(), n})) return ec;
  }
  return out.finish();
}

std::error_code pump_file(const std::filesystem::path& path, sink& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_error();
  const auto ec = pump_file(fd, out);
  ::close(fd);
  return ec;
}

}  // namespace pgship::io

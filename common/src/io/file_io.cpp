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

std::error_code pump_file(int fd, sink& out, std::uint64_t offset,
                          std::optional<std::uint64_t> length, std::size_t block) {
  std::vector<char> buffer(block);
  std::uint64_t left = length.value_or(UINT64_MAX);
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    const ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) {
      if (length) return std::make_error_code(std::errc::io_error);  // shorter than asked
      break;
    }
    const std::span<const char> piece(buffer.data(), static_cast<std::size_t>(n));
    if (auto ec = out.write(piece)) return ec;
    offset += static_cast<std::uint64_t>(n);
    left -= static_cast<std::uint64_t>(n);
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

#include "storage/posix/posix_files.hpp"
#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/io/file_io.hpp>

namespace pgship::receiver::posix_files {
namespace {

namespace stdfs = std::filesystem;

// Reads one open file from `first` for `length` bytes.
class file_reader final : public object_reader {
 public:
  file_reader(int fd, std::uint64_t first, std::uint64_t length)
      : fd_(fd), range_(fd, first, length) {
    struct stat st {};
    ::fstat(fd_, &st);
    identity_ = fmt::format("{}:{}", st.st_dev, st.st_ino);
    ::posix_fadvise(fd_, static_cast<off_t>(first), static_cast<off_t>(length),
                    POSIX_FADV_SEQUENTIAL);
  }
  ~file_reader() override { ::close(fd_); }
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;

  // A file shorter than the range (it was cut) is io_error.
  std::error_code read(std::span<char> buf, std::size_t& got) override {
    return range_.read(buf, got);
  }
  std::string identity() const override { return identity_; }

 private:
  int fd_;
  io::range_reader range_;
  std::string identity_;
};

}  // namespace

std::error_code make_durable_dirs(const stdfs::path& root, const stdfs::path& relative) {
  stdfs::path current = root;
  for (const auto& part : relative) {
    const stdfs::path next = current / part;
    std::error_code ec;
    if (stdfs::create_directory(next, ec)) {
      if (auto sync_ec = fs::fsync_directory(current)) return sync_ec;
    } else if (ec) {
      return ec;
    }
    current = next;
  }
  return {};
}

std::optional<std::string> read_whole_file(const stdfs::path& p, std::uint64_t limit,
                                           std::error_code& ec) {
  ec.clear();
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec = {errno, std::generic_category()};
    return std::nullopt;
  }
  std::string text;
  std::vector<char> block(64 * 1024);
  io::range_reader reader(fd, 0, std::nullopt);
  for (std::size_t n = 0;;) {
    ec = reader.read(block, n);
    if (ec || n == 0) break;
    if (text.size() + n > limit) {
      ec = std::make_error_code(std::errc::file_too_large);
      break;
    }
    text.append(block.data(), n);
  }
  ::close(fd);
  if (ec) return std::nullopt;
  return text;
}

result<std::unique_ptr<object_reader>> open_file_range(const stdfs::path& path, std::uint64_t first,
                                                       std::uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::error_code{errno, std::generic_category()};
  return std::make_unique<file_reader>(fd, first, length);
}

}  // namespace pgship::receiver::posix_files

#include <cerrno>
#include <random>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/fs.hpp>
#include <pgship/common/io/file_io.hpp>

namespace pgship::fs {
namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

}  // namespace

std::error_code fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_error();
  ::close(fd);
  return ec;
}

std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      unsigned mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  const auto temp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return last_error();
  std::error_code ec = io::write_all(fd, content);
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  if (::close(fd) != 0 && !ec) ec = last_error();
  if (!ec && ::rename(temp.c_str(), path.c_str()) != 0) ec = last_error();
  if (ec) {
    ::unlink(temp.c_str());
    return ec;
  }
  return fsync_directory(dir);
}

bool is_safe_name(std::string_view name) {
  // A leading dot would hide the file or collide with .incoming/.partial; ".." anywhere is
  // refused outright rather than reasoned about.
  if (name.empty() || name.size() > 255 || name.front() == '.' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace pgship::fs

#include "pipeline/output_file.hpp"
#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

namespace pgship::agent {

stage_error io_failure(const std::string& what, const std::error_code& ec) {
  return fail(ec == std::errc::no_space_on_device ? errc::disk_full : errc::local_io_failed,
              what + ": " + ec.message());
}

stage_error producer_failure(const child_result& result, const std::string& what,
                             const std::filesystem::path& output) {
  if (result.stopped) return fail(errc::cancelled, what + " stopped: the run was cancelled");
  if (result.sink_error) return io_failure("writing " + output.string(), result.sink_error);
  if (!result.ok()) {
    const auto why = result.last_error_line();
    return fail(errc::dump_failed,
                what + " failed (" + result.describe() + ")" + (why.empty() ? "" : ": " + why));
  }
  return {};
}

namespace {

int create_exclusive(const std::filesystem::path& path, stage_error& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    error = io_failure("cannot create " + path.string(), {errno, std::generic_category()});
  return fd;
}

}  // namespace

output_file::output_file(std::filesystem::path path, const stored_format& format,
                         stage_error& error)
    : path_(std::move(path)), fd_(create_exclusive(path_, error)), file_(fd_), stored_(file_) {
  if (format.encrypted()) age_.emplace(stored_, format.recipients);
  if (format.zstd) {
    zstd_.emplace(age_ ? static_cast<io::sink&>(*age_) : stored_, format.zstd_level,
                  format.zstd_threads);
  }
}

output_file::~output_file() {
  if (fd_ >= 0) ::close(fd_);
}

stage_error output_file::close(stage_error error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  return error;
}

}  // namespace pgship::agent

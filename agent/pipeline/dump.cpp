#include "pipeline/dump.hpp"
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/log.hpp>

namespace pgship::agent {
namespace {

// Start writeback every so often, so the final fsync does not wait for the whole file.
constexpr std::uint64_t writeback_interval = 32 * 1024 * 1024;
// A custom-format archive starts with this magic; anything shorter is not an archive.
constexpr std::string_view archive_magic = "PGDMP";

std::error_code write_all(int fd, std::span<const char> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return {errno, std::generic_category()};
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

void log_stderr(const std::string& text, const log::context& lg) {
  const auto tool = lg.with({{"tool", "pg_dump"}});
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    if (!line.empty()) tool.warn("{}", line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

}  // namespace

boost::asio::awaitable<stage_error> run_dump(const dump_request& request, dump_output& out) {
  const int fd = ::open(request.output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    co_return fail(err == ENOSPC ? errc::disk_full : errc::local_io_failed,
                   "cannot create " + request.output.string() + ": " + std::strerror(err));
  }

  sha256 hash;
  std::uint64_t bytes = 0;
  std::uint64_t synced = 0;
  std::string head;  // the first bytes, to recognise an archive
  stdout_sink sink = [&](std::span<const char> data) -> std::error_code {
    if (head.size() < archive_magic.size()) {
      head.append(data.data(), std::min(data.size(), archive_magic.size() - head.size()));
    }
    if (auto ec = write_all(fd, data)) return ec;
    hash.update(data.data(), data.size());
    bytes += data.size();
    if (request.progress != nullptr) *request.progress = bytes;
    if (bytes - synced >= writeback_interval) {
      ::sync_file_range(fd, static_cast<off_t>(synced), static_cast<off_t>(bytes - synced),
                        SYNC_FILE_RANGE_WRITE);
      synced = bytes;
    }
    return {};
  };

  const auto& login = request.login;
  child_spec spec;
  spec.program = request.pg_dump.path;
  spec.args = {"--format=custom",
               "--compress=" + std::to_string(request.compress_level),
               "--no-password",
               "--host=" + login.host,
               "--port=" + std::to_string(login.port),
               "--username=" + login.user,
               "--dbname=" + login.database};
  if (!request.snapshot.empty()) spec.args.push_back("--snapshot=" + request.snapshot);
  spec.env = {{"PGAPPNAME", "pgship-agent"}};
  if (!login.password.empty()) spec.env["PGPASSWORD"] = login.password;

  const auto result = co_await run_child(spec, std::move(sink), request.handle);
  log_stderr(result.err, request.log);

  stage_error error;
  if (result.stopped) {
    error = fail(errc::cancelled, "pg_dump stopped: the run was cancelled");
  } else if (result.sink_error) {
    error = fail(result.sink_error == std::errc::no_space_on_device ? errc::disk_full
                                                                    : errc::local_io_failed,
                 "writing " + request.output.string() + ": " + result.sink_error.message());
  } else if (!result.ok()) {
    const auto why = result.last_error_line();
    error = fail(errc::dump_failed,
                 "pg_dump failed (" + result.describe() + ")" + (why.empty() ? "" : ": " + why));
  } else if (head != archive_magic) {
    error = fail(errc::dump_too_small, "pg_dump exited 0 but wrote " + std::to_string(bytes) +
                                           " bytes, which is not a custom-format archive");
  } else if (::fdatasync(fd) != 0) {
    const int err = errno;
    error = fail(err == ENOSPC ? errc::disk_full : errc::local_io_failed,
                 "fsync " + request.output.string() + ": " + std::strerror(err));
  }
  ::close(fd);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(request.output, ignored);
    co_return error;
  }
  out.bytes = bytes;
  out.digest = hash.finish();
  co_return stage_error{};
}

}  // namespace pgship::agent

#include "pipeline/archive.hpp"
#include <cerrno>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>

#include "pipeline/pipe_feed.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

stage_error io_failure(const std::string& what, const std::error_code& ec) {
  return fail(ec == std::errc::no_space_on_device ? errc::disk_full : errc::local_io_failed,
              what + ": " + ec.message());
}

}  // namespace

net::awaitable<stage_error> run_archive(const archive_request& request, archive_output& out) {
  const int fd = ::open(request.output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    co_return io_failure("cannot create " + request.output.string(),
                         {errno, std::generic_category()});
  }
  // tar's bytes → hash (plain) → [zstd] → hash (stored) → file.
  io::file_writer file(fd);
  io::hash_filter stored(file);
  std::optional<io::zstd_compressor> zstd;
  if (request.zstd) zstd.emplace(stored, request.zstd_level, request.zstd_threads);
  io::hash_filter plain(zstd ? static_cast<io::sink&>(*zstd) : stored);
  stdout_sink sink = [&plain](std::span<const char> data) { return plain.write(data); };

  child_spec spec;
  spec.program = "/bin/tar";
  // POSIX format: long names, symlink targets and big files as they are; numeric owners, so
  // a restore elsewhere does not map them to other users by name.
  spec.args = {"--create",
               "--file=-",
               "--format=posix",
               "--numeric-owner",
               "--directory=" + request.directory.string(),
               "."};
  const auto result = co_await run_child(spec, std::move(sink), request.handle);
  stage_error error;
  if (result.stopped) {
    error = fail(errc::cancelled, "tar stopped: the run was cancelled");
  } else if (result.sink_error) {
    error = io_failure("writing " + request.output.string(), result.sink_error);
  } else if (!result.ok()) {
    const auto why = result.last_error_line();
    error = fail(errc::dump_failed, "tar of " + request.directory.string() + " failed (" +
                                        result.describe() + ")" + (why.empty() ? "" : ": " + why));
  } else if (const auto ec = plain.finish()) {
    error = io_failure("finishing " + request.output.string(), ec);
  }
  ::close(fd);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(request.output, ignored);
    co_return error;
  }
  out.bytes = stored.bytes();
  out.digest = stored.digest();
  out.plain_bytes = plain.bytes();
  out.plain_digest = plain.digest();
  co_return stage_error{};
}

net::awaitable<stage_error> verify_archive(const std::filesystem::path& file, bool zstd,
                                           const sha256_digest& expected, archive_output& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    co_return io_failure("cannot read back " + file.string(), {errno, std::generic_category()});
  }
  // file → hash → [zstd -d] → tar --list's stdin.
  io::buffer_sink to_pipe;
  std::optional<io::zstd_decompressor> unzstd;
  if (zstd) unzstd.emplace(to_pipe);
  io::hash_filter stored(unzstd ? static_cast<io::sink&>(*unzstd) : to_pipe);
  std::error_code read_ec;
  std::error_code pipe_ec;
  stdin_feeder feeder = [&](net::writable_pipe& in) -> net::awaitable<std::error_code> {
    read_ec = co_await feed_file(fd, stored, to_pipe, in, pipe_ec);
    co_return read_ec;
  };
  std::uint64_t entries = 0;
  stdout_sink count = [&entries](std::span<const char> data) -> std::error_code {
    for (const char c : data)
      if (c == '\n') ++entries;
    return {};
  };
  child_spec spec;
  spec.program = "/bin/tar";
  spec.args = {"--list", "--file=-"};
  const auto result = co_await run_child(spec, std::move(count), nullptr, std::move(feeder));
  ::close(fd);
  if (read_ec && read_ec != std::errc::illegal_byte_sequence &&
      read_ec != std::errc::message_size) {
    co_return io_failure("reading back " + file.string(), read_ec);
  }
  if (stored.digest() != expected) {
    co_return fail(errc::verify_failed, "sha256 of " + file.filename().string() +
                                            " read back differs from the one computed while "
                                            "writing it");
  }
  if (read_ec || !result.ok()) {
    const auto why = read_ec ? read_ec.message() : result.last_error_line();
    co_return fail(errc::verify_failed,
                   "tar --list rejected " + file.filename().string() + ": " + why);
  }
  out.entries = entries;
  co_return stage_error{};
}

}  // namespace pgship::agent

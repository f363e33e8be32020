#include "pipeline/verify.hpp"
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>

#include "child_process.hpp"
#include "pipeline/pipe_feed.hpp"

namespace pgship::agent {
namespace {

stage_error differs(const std::filesystem::path& file, const char* what, const sha256_digest& got,
                    const sha256_digest& want) {
  return fail(errc::verify_failed, std::string("sha256 of ") + what + file.filename().string() +
                                       " read back from disk (" + to_hex(got) +
                                       ") differs from the one computed while dumping (" +
                                       to_hex(want) + ")");
}

stage_error list_rejected(const std::filesystem::path& file, const child_result& result) {
  const auto why = result.last_error_line();
  return fail(errc::restore_list_failed, "pg_restore --list rejected " + file.filename().string() +
                                             " (" + result.describe() + ")" +
                                             (why.empty() ? "" : ": " + why));
}

}  // namespace

stdout_sink count_toc_entries(std::uint64_t& entries) {
  return [&entries, line_start = true](std::span<const char> data) mutable -> std::error_code {
    for (const char c : data) {
      if (line_start && c != ';' && c != '\n') ++entries;
      line_start = c == '\n';
    }
    return {};
  };
}

boost::asio::awaitable<stage_error> run_verify(const std::filesystem::path& file,
                                               const verify_expect& expected,
                                               const pg_tool& pg_restore, verify_output& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    co_return fail(errc::local_io_failed, "cannot read back " + file.string() + ": " +
                                              std::generic_category().message(errno));
  }
  std::uint64_t entries = 0;
  stdout_sink sink = count_toc_entries(entries);
  child_spec spec;
  spec.program = pg_restore.path;
  spec.args = {"--list"};

  if (!expected.format.as_produced()) {
    // file → hash (stored) → read stages (zstd -d) → hash (plain) → pg_restore --list's stdin,
    // one read.
    io::buffer_sink to_pipe;
    io::filter_group chain(to_pipe);
    const auto& plain = chain.push_front<io::hash_filter>();
    const io::codec_settings no_keys;
    io::push_read_stages(chain, expected.format, no_keys);
    const auto& stored = chain.push_front<io::hash_filter>();
    std::error_code read_ec;
    std::error_code pipe_ec;
    stdin_feeder feeder =
        [&](boost::asio::writable_pipe& in) -> boost::asio::awaitable<std::error_code> {
      read_ec = co_await feed_file(fd, chain, to_pipe, in, pipe_ec);
      co_return std::error_code{};  // pg_restore stops reading once it has the list
    };
    const auto result = co_await run_child(spec, std::move(sink), nullptr, std::move(feeder));
    ::close(fd);
    if (read_ec) {
      co_return fail(read_ec == std::errc::io_error ? errc::local_io_failed : errc::verify_failed,
                     "reading back " + file.filename().string() + ": " + chain.describe(read_ec));
    }
    out.bytes_read = stored.bytes();
    if (stored.digest() != expected.stored) {
      co_return differs(file, "", stored.digest(), expected.stored);
    }
    if (plain.digest() != expected.plain) {
      co_return differs(file, "the archive inside ", plain.digest(), expected.plain);
    }
    if (!result.ok()) {
      co_return list_rejected(file, result);
    }
    out.toc_entries = entries;
    co_return stage_error{};
  }

  // file → hash (stored); pg_restore --list reads the file itself.
  io::discard_sink nowhere;
  io::hash_filter stored(nowhere);
  const auto read_ec = io::pump_file(fd, stored);
  ::close(fd);
  if (read_ec) {
    co_return fail(errc::local_io_failed,
                   "cannot read back " + file.string() + ": " + read_ec.message());
  }
  out.bytes_read = stored.bytes();
  if (stored.digest() != expected.stored) {
    co_return differs(file, "", stored.digest(), expected.stored);
  }
  spec.args.push_back(file.string());
  const auto result = co_await run_child(spec, std::move(sink));
  if (!result.ok()) {
    co_return list_rejected(file, result);
  }
  out.toc_entries = entries;
  co_return stage_error{};
}

}  // namespace pgship::agent

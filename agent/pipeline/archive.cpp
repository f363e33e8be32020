#include "pipeline/archive.hpp"
#include <cerrno>
#include <cstring>
#include <optional>

#include <boost/asio/this_coro.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/filters.hpp>

#include "pipeline/list_tee.hpp"
#include "pipeline/output_file.hpp"
#include "pipeline/pipe_feed.hpp"

namespace pgship::agent {

namespace net = boost::asio;

namespace {

stdout_sink count_lines(std::uint64_t& lines) {
  return [&lines](std::span<const char> data) -> std::error_code {
    for (const char c : data)
      if (c == '\n') ++lines;
    return {};
  };
}

}  // namespace

net::awaitable<stage_error> run_archive(const archive_request& request, archive_output& out) {
  stage_error create_error;
  output_file output(request.output, request.format, request.codec, create_error);
  if (create_error) co_return create_error;
  // tar's bytes → [tee to tar --list] → hash (plain) → [zstd] → [age] → hash (stored) → file.
  io::filter_group& chain = output.chain();
  list_tee* tee = nullptr;
  const auto executor = co_await net::this_coro::executor;
  if (request.format.encrypted()) tee = &chain.push_front<list_tee>(executor);
  stdout_sink sink = [&chain](std::span<const char> data) { return chain.write(data); };

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
  child_result result;
  if (tee) {
    std::uint64_t entries = 0;
    std::function<net::awaitable<void>()> list = [&]() -> net::awaitable<void> {
      child_spec lister;
      lister.program = "/bin/tar";
      lister.args = {"--list", "--file=-"};
      auto counter = count_lines(entries);
      std::string what = "tar --list";
      co_await tee->run(std::move(lister), std::move(counter), std::move(what));
    };
    result =
        co_await run_with_listing(*tee, spec, std::move(sink), request.handle, std::move(list));
    out.entries = entries;
    out.listed = tee->listed();
    out.list_problem = tee->problem();
  } else {
    result = co_await run_child(spec, std::move(sink), request.handle);
  }
  const auto error =
      producer_failure(result, "tar of " + request.directory.string(), request.output);
  co_return output.close(error, out);
}

net::awaitable<stage_error> verify_archive(const std::filesystem::path& file,
                                           const io::stored_format& format,
                                           const sha256_digest& expected, archive_output& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    co_return io_failure("cannot read back " + file.string(), {errno, std::generic_category()});
  }
  // file → hash → [read stages: zstd -d] → tar --list's stdin.
  io::buffer_sink to_pipe;
  io::filter_group chain(to_pipe);
  const io::codec_settings no_keys;
  io::push_read_stages(chain, format, no_keys);
  auto& stored = chain.push_front<io::hash_filter>();
  std::error_code read_ec;
  std::error_code pipe_ec;
  stdin_feeder feeder = [&](net::writable_pipe& in) -> net::awaitable<std::error_code> {
    read_ec = co_await feed_file(fd, chain, to_pipe, in, pipe_ec);
    co_return read_ec;
  };
  std::uint64_t entries = 0;
  stdout_sink count = count_lines(entries);
  child_spec spec;
  spec.program = "/bin/tar";
  spec.args = {"--list", "--file=-"};
  const auto result = co_await run_child(spec, std::move(count), nullptr, std::move(feeder));
  ::close(fd);
  if (read_ec && !io::is_codec_error(read_ec)) {
    co_return io_failure("reading back " + file.string(), read_ec);
  }
  if (stored.digest() != expected) {
    co_return fail(errc::verify_failed, "sha256 of " + file.filename().string() +
                                            " read back differs from the one computed while "
                                            "writing it");
  }
  if (read_ec || !result.ok()) {
    const auto why = read_ec ? chain.describe(read_ec) : result.last_error_line();
    co_return fail(errc::verify_failed,
                   "tar --list rejected " + file.filename().string() + ": " + why);
  }
  out.entries = entries;
  co_return stage_error{};
}

}  // namespace pgship::agent

#include "pipeline/dump.hpp"
#include <cerrno>
#include <cstring>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/io/zstd_filters.hpp>
#include <pgship/common/log.hpp>

#include "pipeline/list_tee.hpp"

namespace pgship::agent {
namespace {

// A custom-format archive starts with this magic; anything shorter is not an archive.
constexpr std::string_view archive_magic = "PGDMP";

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

  // pg_dump's bytes → magic check → count → hash (plain) → tee to pg_restore --list →
  // [zstd] → hash (stored) → file.
  io::file_writer file(fd);
  io::hash_filter stored(file);
  std::optional<io::zstd_compressor> zstd;
  if (request.zstd) zstd.emplace(stored, request.zstd_level, request.zstd_threads);
  io::sink& compressed = zstd ? static_cast<io::sink&>(*zstd) : stored;
  const auto executor = co_await boost::asio::this_coro::executor;
  std::optional<list_tee> tee;
  if (request.list_with) tee.emplace(compressed, executor);
  io::hash_filter plain(tee ? static_cast<io::sink&>(*tee) : compressed);
  io::count_filter count(plain, [&request](std::uint64_t n) {
    if (request.progress != nullptr) *request.progress = n;
  });
  io::head_filter head(count, archive_magic.size());
  stdout_sink sink = [&](std::span<const char> data) {
    const auto ec = head.write(data);
    if (!ec && request.on_stored) request.on_stored(file.bytes());
    return ec;
  };

  const auto& login = request.login;
  child_spec spec;
  spec.program = request.pg_dump.path;
  spec.args = {"--format=custom",
               "--compress=" + std::to_string(request.zstd ? 0 : request.compress_level),
               "--no-password",
               "--host=" + login.host,
               "--port=" + std::to_string(login.port),
               "--username=" + login.user,
               "--dbname=" + login.database};
  if (!request.snapshot.empty()) spec.args.push_back("--snapshot=" + request.snapshot);
  spec.env = {{"PGAPPNAME", "pgship-agent"}};
  if (!login.password.empty()) spec.env["PGPASSWORD"] = login.password;

  child_result result;
  if (tee) {
    // pg_dump and the listing side by side; the tee's end (finish or stop) ends the listing.
    auto dump_task = [&]() -> boost::asio::awaitable<void> {
      result = co_await run_child(spec, std::move(sink), request.handle);
      if (result.ok()) {
        tee->input_ended();
      } else {
        tee->stop();
      }
    };
    auto list_task = [&]() -> boost::asio::awaitable<void> {
      co_await tee->run(*request.list_with);
    };
    auto dump_op = boost::asio::co_spawn(executor, dump_task(), boost::asio::deferred);
    auto list_op = boost::asio::co_spawn(executor, list_task(), boost::asio::deferred);
    auto [order, e1, e2] =
        co_await boost::asio::experimental::make_parallel_group(std::move(dump_op),
                                                                std::move(list_op))
            .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
    (void)order;
    if (e1) std::rethrow_exception(e1);
    if (e2) std::rethrow_exception(e2);
  } else {
    result = co_await run_child(spec, std::move(sink), request.handle);
  }
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
  } else if (head.head() != archive_magic) {
    error =
        fail(errc::dump_too_small, "pg_dump exited 0 but wrote " + std::to_string(count.bytes()) +
                                       " bytes, which is not a custom-format archive");
  } else if (const auto ec = head.finish()) {  // zstd's last frame, then fdatasync
    error = fail(ec == std::errc::no_space_on_device ? errc::disk_full : errc::local_io_failed,
                 "finishing " + request.output.string() + ": " + ec.message());
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
  if (tee) {
    out.listed = tee->listed();
    out.list_gave_up = tee->gave_up();
    out.list_problem = tee->problem();
    out.toc_entries = tee->entries();
  }
  co_return stage_error{};
}

}  // namespace pgship::agent

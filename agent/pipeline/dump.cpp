#include "pipeline/dump.hpp"
#include <optional>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/io/filters.hpp>
#include <pgship/common/log.hpp>

#include "pipeline/list_tee.hpp"
#include "pipeline/output_file.hpp"
#include "pipeline/tool_stderr.hpp"

namespace pgship::agent {
namespace {

// A custom-format archive starts with this magic; anything shorter is not an archive.
constexpr std::string_view archive_magic = "PGDMP";

}  // namespace

boost::asio::awaitable<stage_error> run_dump(const dump_request& request, dump_output& out) {
  stage_error create_error;
  output_file output(request.output, request.format, request.codec, create_error);
  if (create_error) co_return create_error;

  // pg_dump's bytes → magic check → count → tee to pg_restore --list → hash (plain) →
  // [zstd] → [age] → hash (stored) → file.
  io::filter_group& chain = output.chain();
  const auto executor = co_await boost::asio::this_coro::executor;
  list_tee* tee = nullptr;
  if (request.list_with) tee = &chain.push_front<list_tee>(executor);
  std::function<void(std::uint64_t)> progress = [&request](std::uint64_t n) {
    if (request.progress != nullptr) *request.progress = n;
  };
  const auto& count = chain.push_front<io::count_filter>(std::move(progress));
  const auto& head = chain.push_front<io::head_filter>(archive_magic.size());
  stdout_sink sink = [&](std::span<const char> data) {
    const auto ec = chain.write(data);
    if (!ec && request.on_stored) request.on_stored(output.stored().bytes());
    return ec;
  };

  const auto& login = request.login;
  child_spec spec;
  spec.program = request.pg_dump.path;
  spec.args = {
      "--format=custom",
      "--compress=" + std::to_string(request.format.compressed() ? 0 : request.compress_level),
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
    std::function<boost::asio::awaitable<void>()> list = [&]() -> boost::asio::awaitable<void> {
      co_await tee->run(*request.list_with);
    };
    result =
        co_await run_with_listing(*tee, spec, std::move(sink), request.handle, std::move(list));
  } else {
    result = co_await run_child(spec, std::move(sink), request.handle);
  }
  log_tool_stderr(result.err, "pg_dump", request.log);

  auto error = producer_failure(result, "pg_dump", request.output);
  if (!error && head.head() != archive_magic) {
    error =
        fail(errc::dump_too_small, "pg_dump exited 0 but wrote " + std::to_string(count.bytes()) +
                                       " bytes, which is not a custom-format archive");
  }
  if (auto closed = output.close(std::move(error), out)) co_return closed;
  if (tee) {
    out.listed = tee->listed();
    out.list_gave_up = tee->gave_up();
    out.list_problem = tee->problem();
    out.toc_entries = tee->entries();
  }
  co_return stage_error{};
}

}  // namespace pgship::agent

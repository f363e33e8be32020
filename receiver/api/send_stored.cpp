#include "api/send_stored.hpp"
#include <stdexcept>

#include <pgship/common/log.hpp>

#include "api/conditional.hpp"
#include "api/read_routes.hpp"

namespace pgship::receiver {
namespace {

constexpr std::size_t send_chunk = 256 * 1024;

}  // namespace

net::awaitable<void> send_stored(http_server::exchange& ex, receiver_context& ctx,
                                 const stored_object& object) {
  const std::string etag = "\"" + object.sha256 + "\"";
  const auto& req = ex.request();
  const auto pre =
      evaluate_preconditions(req[http::field::if_match], req[http::field::if_none_match], etag);
  if (pre == precondition::not_modified) {
    http_server::header_response res{http::status::not_modified, 11};
    res.set(http::field::etag, etag);
    co_await ex.respond_header(std::move(res));
    co_return;
  }
  if (pre == precondition::failed) {
    const std::string detail = "If-Match does not name this " + object.what + "'s ETag";
    co_await ex.respond_error(http::status::precondition_failed,
                              wire::api_error::precondition_failed, detail);
    co_return;
  }
  byte_range range{0, object.size};
  // A Range under an If-Range that does not hold is ignored: the whole file is sent.
  const auto ranged = if_range_holds(req[http::field::if_range], etag)
                          ? parse_range(req[http::field::range], object.size, range)
                          : range_result::none;
  if (ranged == range_result::unsatisfiable) {
    auto res = http_server::make_error_response(
        http::status::range_not_satisfiable, wire::api_error::range_not_satisfiable,
        "the file has " + std::to_string(object.size) + " bytes");
    res.set(http::field::content_range, "bytes */" + std::to_string(object.size));
    co_await ex.respond(std::move(res));
    co_return;
  }
  http_server::header_response res{
      ranged == range_result::ok ? http::status::partial_content : http::status::ok, 11};
  res.set(http::field::content_type, "application/octet-stream");
  res.set(http::field::etag, etag);
  res.set(http::field::accept_ranges, "bytes");
  res.set(http::field::content_disposition, "attachment; filename=\"" + object.file_name + "\"");
  for (const auto& [name, value] : object.extra_headers)
    res.set(name, value);
  if (ranged == range_result::ok) {
    res.set(http::field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                            std::to_string(range.first + range.length - 1) + "/" +
                                            std::to_string(object.size));
  }
  res.content_length(range.length);
  const bool head = ex.request().method() == http::verb::head;
  std::unique_ptr<object_reader> reader;
  std::error_code ec;
  if (!head) {
    std::function<void()> open = [&] {
      auto opened = object.open(range.first, range.length);
      if (opened) {
        reader = std::move(*opened);
      } else {
        ec = opened.error();
      }
    };
    co_await ctx.on_storage_thread(open);
    if (ec == std::errc::no_such_file_or_directory) {
      const std::string detail = "no such " + object.what;
      co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, detail);
      co_return;
    }
    if (ec) {
      log::write(spdlog::level::err, "download failed: " + ec.message(),
                 {{"client", object.log_client}, {"file", object.file_name}});
      const std::string detail = "could not read the " + object.what;
      co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                                detail);
      co_return;
    }
  }
  if (co_await ex.respond_header(std::move(res))) co_return;
  if (head) co_return;

  std::vector<char> block(send_chunk);
  std::size_t got = 0;
  std::function<void()> read_block = [&] { ec = reader->read(block, got); };
  for (std::uint64_t left = range.length; left > 0; left -= got) {
    co_await ctx.on_storage_thread(read_block);
    if (ec || got == 0) {
      // The stored object shrank or could not be read: the response cannot be completed, so
      // the connection closes.
      throw std::runtime_error("short read while sending " + object.file_name + ": " +
                               (ec ? ec.message() : std::string("end of object")));
    }
    if (const auto wec = co_await ex.write_body(net::buffer(block.data(), got)); wec) co_return;
  }
}

}  // namespace pgship::receiver

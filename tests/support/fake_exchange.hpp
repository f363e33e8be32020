#pragma once
// Drives a route handler in-process, without a socket: a request header and body in, the
// response (status, headers, body) captured. For tests of what a route answers, with the
// receiver_context (and its storage) the test chose.

#include <algorithm>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/error.hpp>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/router.hpp>

namespace pgship::test {

namespace detail {
// Base-from-member: the header exists before the exchange that refers to it.
struct fake_request {
  http_server::request_header header;
};
}  // namespace detail

class fake_exchange final : private detail::fake_request, public http_server::exchange {
 public:
  fake_exchange(http_server::request_header req, std::string path, std::string query,
                http_server::route_params params, std::string body)
      : fake_request{std::move(req)},
        exchange(fake_request::header, std::move(path), std::move(query), std::move(params),
                 "127.0.0.1", true),
        body_(std::move(body)) {}

  net::awaitable<std::pair<error_code, std::size_t>> read_body(net::mutable_buffer out) override {
    if (limit_ && body_.size() > *limit_) {
      co_return std::pair{error_code(http::error::body_limit), std::size_t{0}};
    }
    const auto n = std::min(out.size(), body_.size() - read_);
    std::memcpy(out.data(), body_.data() + read_, n);
    read_ += n;
    co_return std::pair{error_code{}, n};
  }
  bool body_done() const override { return read_ == body_.size(); }
  void set_body_limit(std::optional<std::uint64_t> limit) override { limit_ = limit; }

  net::awaitable<error_code> respond(http_server::string_response res) override {
    responded_ = true;
    status_ = res.result();
    answer_ = res.body();
    bytes_sent_ += res.body().size();
    co_return error_code{};
  }
  net::awaitable<error_code> respond_header(http_server::header_response res) override {
    responded_ = true;
    status_ = res.result();
    co_return error_code{};
  }
  net::awaitable<error_code> write_body(net::const_buffer data) override {
    answer_.append(static_cast<const char*>(data.data()), data.size());
    bytes_sent_ += data.size();
    co_return error_code{};
  }

  /// The response body (a complete one, or what was streamed).
  const std::string& answer() const { return answer_; }

 private:
  std::string body_;
  std::size_t read_ = 0;
  std::optional<std::uint64_t> limit_;
  std::string answer_;
};

/// What a route answered.
struct route_answer {
  unsigned status = 0;
  std::string body;
};

/// Runs the handler `routes` has for `req` (its method and target) with `body`, to the end: an
/// exception the handler throws is rethrown here. 404 when no route matches.
inline route_answer call_route(const http_server::router& routes, http_server::request_header req,
                               std::string body = {}) {
  const std::string target(req.target());
  const auto q = target.find('?');
  const auto path = target.substr(0, q);
  const auto query = q == std::string::npos ? std::string() : target.substr(q + 1);
  auto match = routes.match(req.method(), path);
  if (match.result != http_server::route_match::outcome::found) return {404, {}};
  req.set(http::field::content_length, std::to_string(body.size()));
  fake_exchange ex(std::move(req), path, query, std::move(match.params), std::move(body));
  net::io_context io;
  std::exception_ptr failed;
  net::co_spawn(io, (*match.target)(ex), [&](std::exception_ptr e) { failed = e; });
  io.run();
  if (failed) std::rethrow_exception(failed);
  return {static_cast<unsigned>(ex.status()), ex.answer()};
}

}  // namespace pgship::test

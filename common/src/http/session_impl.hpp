#pragma once
// Private: the session template's definitions, instantiated once per stream type in
// session_tcp.cpp and session_tls.cpp (two files so the two heavy instantiations compile in
// parallel).

#include <array>
#include <chrono>
#include <limits>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <pgship/common/http/framing.hpp>
#include <pgship/common/log.hpp>

#include "session.hpp"
#include "stream_exchange.hpp"

namespace pgship::http_server {
namespace session_detail {

template <class Stream>
constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

// After answering a request whose body we did not read, keep reading (and discarding) for a
// moment so the client sees our response instead of a reset.
inline constexpr auto linger_time = std::chrono::seconds(2);
inline constexpr std::uint64_t linger_bytes = 64ull * 1024 * 1024;

// A malformed request (as opposed to a client that went away) deserves an answer.
inline bool is_malformed_request(const error_code& ec) {
  if (ec.category() != error_code(http::error::bad_method).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::short_read;
}

inline bool quiet_path(std::string_view path) {
  return path == "/health" || path == "/livez" || path == "/metrics";
}

}  // namespace session_detail
using namespace session_detail;

template <class Stream>
session<Stream>::session(Stream stream, std::shared_ptr<server::state> state, std::string peer,
                         bool loopback)
    : stream_(std::move(stream)),
      state_(std::move(state)),
      peer_(std::move(peer)),
      loopback_(loopback) {}

template <class Stream>
void session<Stream>::stop(bool hard) {
  net::post(stream_.get_executor(), [self = this->shared_from_this(), hard] {
    self->stopping_ = true;
    if (hard || self->idle_) self->close_socket();
    if (hard) self->cancel_.emit(net::cancellation_type::terminal);
  });
}

template <class Stream>
void session<Stream>::close_socket() {
  error_code ignored;
  beast::get_lowest_layer(stream_).socket().close(ignored);
}

template <class Stream>
net::awaitable<void> session<Stream>::run() {
  if constexpr (is_tls<Stream>) {
    beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
    auto [ec, used] = co_await stream_.async_handshake(
        net::ssl::stream_base::server, buffer_.data(), net::as_tuple(net::use_awaitable));
    if (ec) {
      spdlog::debug("tls handshake with {} failed: {}", peer_, ec.message());
      close_socket();
      co_return;
    }
    buffer_.consume(used);
  }
  while (!stopping_) {
    const bool more = co_await serve_one();
    if (!more) break;
  }
  co_await close(false);
}

template <class Stream>
net::awaitable<bool> session<Stream>::serve_one() {
  const auto& options = state_->options;
  request_parser parser;
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
  // Beast would refuse a large Content-Length while reading the header (1 MB default); the
  // route's own limit is applied once the route is known.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());

  idle_ = true;
  beast::get_lowest_layer(stream_).expires_after(options.idle_timeout);
  auto [read_ec, header_bytes] =
      co_await http::async_read_header(stream_, buffer_, parser, net::as_tuple(net::use_awaitable));
  idle_ = false;
  const auto started = std::chrono::steady_clock::now();

  if (read_ec) {
    if (is_malformed_request(read_ec)) {
      // The client sent something, but not a request we can serve: answer, then hang up.
      const bool too_large = read_ec == http::error::header_limit;
      // Named first: GCC 12 destroys temporaries inside a co_await full-expression twice.
      const std::string detail =
          too_large ? "request header exceeds " + std::to_string(options.header_limit) + " bytes"
                    : read_ec.message();
      co_await refuse(
          too_large ? http::status::request_header_fields_too_large : http::status::bad_request,
          too_large ? wire::api_error::header_too_large : wire::api_error::bad_request, detail);
    } else if (read_ec == beast::error::timeout && buffer_.size() > 0) {
      spdlog::info("dropped {}: request header not complete within the idle timeout", peer_);
    }
    co_return false;
  }
  // Where this request ends must be certain before anything else is read: a body framed one
  // way here and another way by a proxy in front would let a request hide inside it.
  auto problem = http_framing::framing_problem(parser.get(), parser.get().version());
  if (!problem) problem = http_framing::host_problem(parser.get(), parser.get().version());
  if (problem) {
    co_await refuse(http::status::bad_request, wire::api_error::bad_request, *problem);
    co_return false;
  }

  auto& header = parser.get().base();
  const auto target = boost::urls::parse_origin_form(header.target());
  std::string path;
  std::string query;
  if (target) {
    path = target->encoded_path();
    query = target->encoded_query();
  }

  route_match match;
  if (target) match = state_->routes.match(header.method(), path);
  stream_exchange<Stream> ex(stream_, buffer_, parser, options, stopping_, path, query,
                             std::move(match.params), peer_, loopback_);

  error_code write_ec;
  if (!target) {
    write_ec = co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                                         "request target is not a valid path");
  } else if (match.result == route_match::outcome::not_found) {
    write_ec = co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                                         "no route for " + path);
  } else if (match.result == route_match::outcome::method_not_allowed) {
    auto res =
        make_error_response(http::status::method_not_allowed, wire::api_error::method_not_allowed,
                            std::string(header.method_string()) + " is not allowed on " + path);
    res.set(http::field::allow, match.allow);
    write_ec = co_await ex.respond(std::move(res));
  } else if (const auto length = parser.content_length();
             match.options.body_limit && length && *length > *match.options.body_limit) {
    write_ec = co_await ex.respond_error(
        http::status::payload_too_large, wire::api_error::payload_too_large,
        "body of " + std::to_string(*length) + " bytes exceeds the limit of " +
            std::to_string(*match.options.body_limit));
  } else {
    ex.set_body_limit(match.options.body_limit);
    bool failed = false;
    try {
      co_await (*match.target)(ex);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} failed: {}", header.method_string(), path, e.what());
      failed = true;
    }
    if (!ex.responded()) {
      if (!failed) {
        spdlog::error("handler for {} {} returned without a response", header.method_string(),
                      path);
      }
      write_ec = co_await ex.respond_error(
          http::status::internal_server_error, wire::api_error::internal,
          failed ? "unexpected server error" : "the handler sent no response");
    } else if (failed) {
      write_ec = net::error::connection_aborted;  // a half-written response: close
    }
  }

  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  const auto status = static_cast<unsigned>(ex.status());
  const auto level = quiet_path(path) && status < 400 ? spdlog::level::debug : spdlog::level::info;
  log::write(level, "http request",
             {{"method", std::string(header.method_string())},
              {"path", path},
              {"status", status},
              {"bytes_in", ex.bytes_received()},
              {"bytes_out", ex.bytes_sent()},
              {"duration_ms", static_cast<std::int64_t>(elapsed.count() * 1000)},
              {"peer", peer_},
              {"client", ex.client()}});
  if (options.on_request) {
    options.on_request({header.method_string(), path, status, ex.bytes_received(), ex.bytes_sent(),
                        elapsed, peer_, ex.client()});
  }

  if (write_ec || !ex.keep_alive()) {
    if (!write_ec) co_await close(!ex.body_done());
    co_return false;
  }
  co_return true;
}

template <class Stream>
net::awaitable<void> session<Stream>::refuse(http::status status, wire::api_error error,
                                             const std::string& detail) {
  auto res = make_error_response(status, error, detail);
  res.set(http::field::server, state_->options.server_header);
  res.keep_alive(false);
  res.prepare_payload();
  beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
  co_await http::async_write(stream_, res, net::as_tuple(net::use_awaitable));
  log::write(spdlog::level::info, "rejected request", {{"peer", peer_}, {"reason", detail}});
  // What follows is discarded unread: nothing after a framing error is a request.
  co_await close(true);
}

template <class Stream>
net::awaitable<void> session<Stream>::close(bool drain) {
  auto& lowest = beast::get_lowest_layer(stream_);
  if (!lowest.socket().is_open()) co_return;
  if constexpr (is_tls<Stream>) {
    lowest.expires_after(std::chrono::seconds(2));
    co_await stream_.async_shutdown(net::as_tuple(net::use_awaitable));
  } else {
    error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (drain && !ec) {
      lowest.expires_after(linger_time);
      std::array<char, 64 * 1024> sink;
      std::uint64_t drained = 0;
      while (drained < linger_bytes) {
        auto [read_ec, n] =
            co_await lowest.async_read_some(net::buffer(sink), net::as_tuple(net::use_awaitable));
        if (read_ec) break;
        drained += n;
      }
    }
  }
  close_socket();
}

}  // namespace pgship::http_server

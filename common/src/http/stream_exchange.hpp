#pragma once
// Private: the exchange implementation over a concrete stream (plain or TLS).

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/framing.hpp>
#include <pgship/common/http/server.hpp>

namespace pgship::http_server {

using request_parser = http::request_parser<http::buffer_body>;

template <class Stream>
class stream_exchange final : public exchange {
 public:
  stream_exchange(Stream& stream, beast::flat_buffer& buffer, request_parser& parser,
                  const server_options& options, const bool& stopping, std::string path,
                  std::string query, route_params params, std::string peer, bool loopback)
      : exchange(parser.get().base(), std::move(path), std::move(query), std::move(params),
                 std::move(peer), loopback),
        stream_(stream),
        buffer_(buffer),
        parser_(parser),
        options_(options),
        stopping_(stopping) {}

  net::awaitable<std::pair<error_code, std::size_t>> read_body(net::mutable_buffer out) override {
    if (over_limit_) co_return std::pair{error_code(http::error::body_limit), std::size_t{0}};
    if (body_done()) co_return std::pair{error_code{}, std::size_t{0}};
    if (auto ec = co_await send_continue_once(); ec) co_return std::pair{ec, std::size_t{0}};
    if (const auto left = direct_body_left()) co_return co_await read_body_direct(out, *left);
    co_return co_await read_body_parsed(out);
  }

  bool body_done() const override { return parser_.is_done() || direct_done_; }

  void set_body_limit(std::optional<std::uint64_t> limit) override {
    parser_.body_limit(limit.value_or(std::numeric_limits<std::uint64_t>::max()));
    // Beast checks a declared Content-Length against the limit only while reading the
    // header, which is over by now: check it here, before any body byte is read.
    const auto declared = parser_.content_length();
    over_limit_ = limit && declared && *declared > *limit;
  }

  net::awaitable<error_code> respond(string_response res) override {
    prepare(res);
    res.prepare_payload();
    if (request_.method() == http::verb::head) res.body().clear();
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    auto [ec, n] = co_await http::async_write(stream_, res, net::as_tuple(net::use_awaitable));
    bytes_sent_ += res.body().size();
    co_return ec;
  }

  net::awaitable<error_code> respond_header(header_response res) override {
    prepare(res);
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    // An empty_body message with Content-Length set serialises as the header alone; the body
    // follows through write_body().
    auto [ec, n] = co_await http::async_write(stream_, res, net::as_tuple(net::use_awaitable));
    co_return ec;
  }

  net::awaitable<error_code> write_body(net::const_buffer data) override {
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    auto [ec, n] = co_await net::async_write(stream_, data, net::as_tuple(net::use_awaitable));
    bytes_sent_ += n;
    co_return ec;
  }

  bool keep_alive() const { return keep_alive_; }
  std::uint64_t bytes_received() const { return bytes_received_; }

 private:
  template <class Body>
  void prepare(http::response<Body>& res) {
    res.version(request_.version());
    res.set(http::field::server, options_.server_header);
    // A body left unread would be parsed as the next request: close instead.
    keep_alive_ = parser_.keep_alive() && body_done() && !stopping_;
    res.keep_alive(keep_alive_);
    responded_ = true;
    status_ = res.result();
  }

  // A body of declared length whose bytes already read ahead with the header have been
  // handed out is read straight from the socket into the caller's buffer: through the parser
  // every byte is copied once more (5 % of the receiver's CPU at 800 MB/s). Returns the bytes
  // still to come, or nullopt while the parser must go on (chunked, read-ahead left).
  std::optional<std::uint64_t> direct_body_left() const {
    if (parser_.chunked() || buffer_.size() != 0) return std::nullopt;
    const auto declared = parser_.content_length();
    if (!declared || bytes_received_ >= *declared) return std::nullopt;
    return *declared - bytes_received_;
  }

  net::awaitable<std::pair<error_code, std::size_t>> read_body_direct(net::mutable_buffer out,
                                                                      std::uint64_t left) {
    auto& lowest = beast::get_lowest_layer(stream_);
    lowest.expires_after(options_.idle_timeout);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), left));
    auto [ec, n] = co_await stream_.async_read_some(net::buffer(out.data(), want),
                                                    net::as_tuple(net::use_awaitable));
    bytes_received_ += n;
    direct_done_ = !ec && n == left;
    // The same error the parser gives for a body cut short.
    if (ec == net::error::eof) ec = http::error::partial_message;
    co_return std::pair{ec, n};
  }

  // A chunked body (or read-ahead of one with a length) goes through the parser. The loop is
  // Beast's read_some, but it caps what the parser may hold without consuming: an unfinished
  // chunk-size line or trailer section longer than max_chunk_line is refused, so a client
  // cannot make us buffer a line without end.
  net::awaitable<std::pair<error_code, std::size_t>> read_body_parsed(net::mutable_buffer out) {
    // Room for large reads: Beast's own loop reads at most the buffer's free capacity, which
    // after a header is a few hundred bytes (512-byte recv()s capped ingest at ~40 MB/s).
    constexpr std::size_t body_read_size = 128 * 1024;
    parser_.eager(true);
    parser_.get().body().data = out.data();
    parser_.get().body().size = out.size();
    const auto taken = [&] { return out.size() - parser_.get().body().size; };
    while (true) {
      error_code ec;
      if (buffer_.size() > 0) {
        buffer_.consume(parser_.put(buffer_.data(), ec));
      } else {
        ec = http::error::need_more;
      }
      if (ec == http::error::need_buffer) ec = {};  // `out` is full
      if (ec && ec != http::error::need_more) {
        bytes_received_ += taken();
        co_return std::pair{ec, taken()};
      }
      // A chunk header alone gives no body byte yet: 0 would read as the end of the body.
      if (taken() > 0 || parser_.is_done()) {
        bytes_received_ += taken();
        co_return std::pair{error_code{}, taken()};
      }
      // need_more: what is left in the buffer is one unfinished line or trailer section.
      if (ec && buffer_.size() > http_framing::max_chunk_line) {
        co_return std::pair{error_code(http_framing::errc::line_too_long), std::size_t{0}};
      }
      beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
      auto [read_ec, n] = co_await stream_.async_read_some(buffer_.prepare(body_read_size),
                                                           net::as_tuple(net::use_awaitable));
      buffer_.commit(n);
      if (read_ec == net::error::eof) {
        // Cut short: the parser says how (partial_message mid-body).
        error_code eof_ec;
        parser_.put_eof(eof_ec);
        co_return std::pair{eof_ec ? eof_ec : error_code(http::error::partial_message),
                            std::size_t{0}};
      }
      if (read_ec) co_return std::pair{read_ec, std::size_t{0}};
    }
  }

  net::awaitable<error_code> send_continue_once() {
    if (continue_sent_ || request_.version() < 11) co_return error_code{};
    continue_sent_ = true;
    const auto expect = request_[http::field::expect];
    if (!beast::iequals(expect, "100-continue")) co_return error_code{};
    http::response<http::empty_body> res{http::status::continue_, 11};
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    auto [ec, n] = co_await http::async_write(stream_, res, net::as_tuple(net::use_awaitable));
    co_return ec;
  }

  Stream& stream_;
  beast::flat_buffer& buffer_;
  request_parser& parser_;
  const server_options& options_;
  const bool& stopping_;
  bool continue_sent_ = false;
  bool over_limit_ = false;
  bool direct_done_ = false;  // a body read past the parser has arrived whole
  bool keep_alive_ = false;
  std::uint64_t bytes_received_ = 0;
};

}  // namespace pgship::http_server

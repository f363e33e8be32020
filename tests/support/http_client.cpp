#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <poll.h>
#include <sys/socket.h>

namespace pgship::test {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

void set_timeouts(net::ip::tcp::socket& s, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

http_connection::http_connection(unsigned short port, std::chrono::milliseconds timeout)
    : socket_(io_) {
  socket_.connect({net::ip::make_address("127.0.0.1"), port});
  set_timeouts(socket_, timeout);
}

http_response http_connection::send(const http_request& request) {
  http::request<http::string_body> req{request.method, request.target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : request.headers)
    req.set(k, v);
  req.body() = request.body;
  if (!request.body.empty() || request.method == http::verb::post ||
      request.method == http::verb::put || request.method == http::verb::patch) {
    req.prepare_payload();
  }
  http::write(socket_, req);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024 * 1024 * 1024);
  if (request.method == http::verb::head) parser.skip(true);
  http::read(socket_, buffer, parser);
  return parser.release();
}

void http_connection::write_raw(std::string_view bytes) {
  net::write(socket_, net::buffer(bytes.data(), bytes.size()));
}

std::string http_connection::read_until(std::string_view marker) {
  std::string out;
  const auto n = net::read_until(socket_, net::dynamic_buffer(out), marker);
  out.resize(n);
  return out;
}

std::string http_connection::read_until_close() {
  std::string out;
  boost::system::error_code ec;
  net::read(socket_, net::dynamic_buffer(out), ec);
  return out;
}

std::string http_connection::write_then_read_until_close(std::string_view body) {
  boost::system::error_code ec;
  net::write(socket_, net::buffer(body), ec);  // an error here is the early answer
  return read_until_close();
}

bool http_connection::closed_by_peer(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
    char c;
    const auto n = ::recv(socket_.native_handle(), &c, 1, 0);
    if (n <= 0) return true;  // EOF or reset
  }
  return false;
}

http_response http_send(unsigned short port, const http_request& request) {
  http_connection c(port);
  return c.send(request);
}

}  // namespace pgship::test

#pragma once
// A small blocking HTTP/1.1 client over Beast for tests: one request per call, or a kept
// connection for keep-alive checks, plus raw socket access for malformed traffic.

#include <chrono>
#include <map>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace pgship::test {

using http_response = boost::beast::http::response<boost::beast::http::string_body>;

struct http_request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";
  std::map<std::string, std::string> headers;
  std::string body;
};

/// One connection to 127.0.0.1:port; requests go out in order on it.
class http_connection {
 public:
  explicit http_connection(unsigned short port,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Sends and reads the response. Throws boost::system::system_error on I/O errors.
  http_response send(const http_request& request);
  /// Writes raw bytes to the socket.
  void write_raw(std::string_view bytes);
  /// Reads until `marker` arrived (an interim "100 Continue"); returns the text up to and
  /// including it. Throws boost::system::system_error on I/O errors or the timeout.
  std::string read_until(std::string_view marker);
  /// Reads until the peer closes or the timeout; returns what arrived.
  std::string read_until_close();
  /// Writes `body` as far as the peer takes it (a server may answer early and stop reading),
  /// then reads until it closes; returns what arrived.
  std::string write_then_read_until_close(std::string_view body);
  /// True when the server has closed the connection (a read returns EOF) within `wait`.
  bool closed_by_peer(std::chrono::milliseconds wait);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
};

/// One request on a fresh connection.
http_response http_send(unsigned short port, const http_request& request);

}  // namespace pgship::test

#pragma once
// The HTTP server core both programs use: an Asio-coroutine listener and keep-alive sessions
// (plain TCP or TLS) that read each request header first, route it, and let the handler
// stream the body. Limits: header size (431), per-route body limit (413), idle timeout.
// Shutdown is graceful and bounded.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include <pgship/common/http/net.hpp>
#include <pgship/common/http/router.hpp>

namespace pgship::http_server {

/// What the server knows about one finished request, for metrics.
struct access_record {
  std::string_view method;
  std::string_view path;  // without the query string
  unsigned status = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::chrono::duration<double> duration{};
  std::string_view peer;
  std::string_view client;
};

struct server_options {
  std::size_t header_limit = 16 * 1024;
  /// A connection that sends or accepts nothing for this long is dropped.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  /// How long shutdown() lets in-flight requests finish before closing them.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(10);
  std::string server_header = "pgship";
  /// HTTPS when set: every connection must complete a TLS handshake.
  std::shared_ptr<net::ssl::context> tls;
  /// Called once per finished request, on the session's executor. Must be thread-safe.
  std::function<void(const access_record&)> on_request;
  /// Open connections one client address may hold; 0: no limit. Past it a new connection is
  /// answered 429 (plain HTTP; over TLS it is closed) and closed, before any request is read.
  std::size_t max_connections_per_ip = 0;
  /// Called for each connection refused that way. Must be thread-safe.
  std::function<void(std::string_view peer)> on_connection_refused;
};

/// Thread-safe: listen()/start() once, shutdown() from any executor.
class server {
 public:
  server(net::any_io_executor executor, router routes, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens; returns the bound endpoint (port 0 picks a free port).
  /// Throws boost::system::system_error when the address cannot be bound.
  tcp::endpoint listen(const tcp::endpoint& endpoint);
  /// Starts accepting. `on_failure` gets the exception should the accept loop ever throw (a
  /// server that no longer accepts must not run on silently): pass stop_control::supervise.
  void start(std::function<void(std::exception_ptr)> on_failure);

  /// Stops accepting, closes idle connections, lets in-flight requests finish within
  /// shutdown_grace, then closes what is left. Completes when every session has ended.
  net::awaitable<void> shutdown();

  std::size_t session_count() const;

  /// Thread-safe: connections accepted from now on handshake with `tls` (a renewed
  /// certificate); those already open keep theirs.
  void set_tls(std::shared_ptr<net::ssl::context> tls);

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace pgship::http_server

#pragma once
// Private: one client connection. Templated on the stream so the same code serves plain TCP
// and TLS (and a test can pass a stream that fails on demand); instantiated in session.cpp.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <pgship/common/wire/errors.hpp>

#include "server_state.hpp"

namespace pgship::http_server {

template <class Stream>
class session final : public session_base, public std::enable_shared_from_this<session<Stream>> {
 public:
  session(Stream stream, std::shared_ptr<server::state> state, std::string peer, bool loopback);

  /// Serves requests until the client leaves, an error, or stop().
  net::awaitable<void> run();
  void stop(bool hard) override;
  /// Bound to the run() coroutine: a hard stop cancels whatever the handler awaits.
  net::cancellation_slot cancellation_slot() { return cancel_.slot(); }

 private:
  net::awaitable<bool> serve_one();
  /// Answers a request that cannot be served and closes the connection.
  net::awaitable<void> refuse(http::status status, wire::api_error error,
                              const std::string& detail);
  net::awaitable<void> close(bool drain);
  void close_socket();

  Stream stream_;
  std::shared_ptr<server::state> state_;
  std::string peer_;
  bool loopback_;
  beast::flat_buffer buffer_;
  net::cancellation_signal cancel_;
  bool idle_ = true;
  bool stopping_ = false;
};

}  // namespace pgship::http_server

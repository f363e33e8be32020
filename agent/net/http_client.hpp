#pragma once
// The agent's HTTP(S) client for the receiver: one kept-alive connection, reopened when
// needed. HTTPS verifies the receiver's certificate and host name against the system store
// or CA_FILE, with an optional client certificate for mutual TLS. Bodies can come from a
// file range (uploads) and go to a sink (downloads), so memory stays flat.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <pgship/common/errors.hpp>
#include <pgship/common/io/byte_rate_limiter.hpp>
#include <pgship/common/wire/errors.hpp>

#include "net/error_reply.hpp"
#include "net/receiver_endpoint.hpp"
#include "net/tls_client.hpp"

namespace pgship::agent {

struct http_outcome {
  /// Transport failure: receiver_unreachable (resolve, connect, reset, timeout) or tls_failed.
  errc failure = errc::ok;
  std::string message;     // set when failure != ok
  http_response response;  // valid when failure == ok

  bool ok() const { return failure == errc::ok; }
  unsigned status() const { return response.result_int(); }
};

/// Receives a download's body, piece by piece (the bytes are valid only until it returns); it
/// may wait (a slow consumer slows the download down); an error aborts the transfer.
using body_sink = std::function<boost::asio::awaitable<std::error_code>(std::span<const char>)>;

class http_client {
 public:
  http_client(boost::asio::any_io_executor ex, receiver_endpoint endpoint, tls_files tls,
              std::chrono::seconds timeout = std::chrono::seconds(60));
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  const receiver_endpoint& endpoint() const;
  /// Every body byte of send_file_range passes through `limiter` first (UPLOAD_RATE_LIMIT).
  void limit_uploads(std::shared_ptr<io::byte_rate_limiter> limiter);

  /// One request with a small body; Host is set here.
  boost::asio::awaitable<http_outcome> send(http_request request);

  /// A request whose body is bytes [offset, offset + length) of the open file `fd`, sent
  /// after the receiver accepts the header (Expect: 100-continue), so a refusal (401, 413,
  /// 507) arrives as a response rather than a broken pipe. `on_sent` sees each piece written.
  boost::asio::awaitable<http_outcome> send_file_range(http_request request, int fd,
                                                       std::uint64_t offset, std::uint64_t length,
                                                       std::function<void(std::size_t)> on_sent);

  /// The same with a body in memory (`body` must stay valid until it completes): a tus PATCH
  /// of a chunk the agent made itself.
  boost::asio::awaitable<http_outcome> send_bytes(http_request request, std::span<const char> body,
                                                  std::function<void(std::size_t)> on_sent);

  /// A GET whose 2xx body goes to `sink` (response.body() stays empty); other statuses keep
  /// their (small) body in the response for the error message.
  boost::asio::awaitable<http_outcome> download(http_request request, body_sink sink);

  /// Drops the connection (the next request opens a new one).
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pgship::agent

#pragma once
// One request and its response, as a route handler sees it. The session has read the request
// header only; the handler pulls the body in chunks (or not at all) and either sends one
// in-memory response or streams a body of known length. Not thread-safe: used by one handler.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/empty_body.hpp>

#include <pgship/common/http/net.hpp>
#include <pgship/common/http/router.hpp>
#include <pgship/common/wire/errors.hpp>

namespace pgship::http_server {

using request_header = http::request_header<>;
using string_response = http::response<http::string_body>;
/// A response whose body the handler streams itself; content_length must be set.
using header_response = http::response<http::empty_body>;

class exchange {
 public:
  virtual ~exchange() = default;

  const request_header& request() const { return request_; }
  std::string_view path() const { return path_; }
  /// A decoded query parameter; nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
  const route_params& params() const { return params_; }
  /// A header holding a whole non-negative number (Content-Length, Upload-Offset...);
  /// nullopt when absent or not exactly a number.
  std::optional<std::uint64_t> header_u64(std::string_view name) const;
  const std::string& peer_address() const { return peer_address_; }
  bool peer_is_loopback() const { return peer_loopback_; }

  /// Names the authenticated client in the access log line.
  void set_client(std::string client) { client_ = std::move(client); }
  const std::string& client() const { return client_; }

  // --- request body -------------------------------------------------------------------------

  /// Reads the next body bytes into `buffer`. Returns 0 with no error once the body is done.
  /// Sends "100 Continue" first if the client asked for it. Errors: beast timeout, eof
  /// (client went away), http::error::body_limit, partial_message (body shorter than declared).
  virtual net::awaitable<std::pair<error_code, std::size_t>> read_body(
      net::mutable_buffer buffer) = 0;
  virtual bool body_done() const = 0;
  /// Replaces the route's body limit for this request (nullopt: unlimited).
  virtual void set_body_limit(std::optional<std::uint64_t> limit) = 0;
  /// Like read_body(), but keeps reading until `buffer` is full or the body ends, so callers
  /// write and hash in large pieces rather than one socket read (~64 KiB) at a time.
  net::awaitable<std::pair<error_code, std::size_t>> read_body_full(net::mutable_buffer buffer);

  // --- response -----------------------------------------------------------------------------

  /// Sends a complete response. Content-Length is set from the body.
  virtual net::awaitable<error_code> respond(string_response response) = 0;
  /// Sends the header of a streamed response; follow with write_body() calls totalling
  /// exactly content_length bytes (none for HEAD).
  virtual net::awaitable<error_code> respond_header(header_response response) = 0;
  virtual net::awaitable<error_code> write_body(net::const_buffer data) = 0;

  /// {"error": error, "detail": detail} with the given status. The error is an entry of the
  /// wire's catalogue: no route can send a name the other side does not know.
  net::awaitable<error_code> respond_error(http::status status, wire::api_error error,
                                           std::string_view detail);
  /// A JSON body (already serialised) with the given status.
  net::awaitable<error_code> respond_json(http::status status, std::string body);

  bool responded() const { return responded_; }
  http::status status() const { return status_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 protected:
  exchange(const request_header& request, std::string path, std::string query, route_params params,
           std::string peer_address, bool peer_loopback)
      : request_(request),
        path_(std::move(path)),
        query_(std::move(query)),
        params_(std::move(params)),
        peer_address_(std::move(peer_address)),
        peer_loopback_(peer_loopback) {}

  const request_header& request_;
  std::string path_;
  std::string query_;
  route_params params_;
  std::string peer_address_;
  bool peer_loopback_ = false;
  std::string client_;
  bool responded_ = false;
  http::status status_ = http::status::unknown;
  std::uint64_t bytes_sent_ = 0;
};

/// A string_response with the JSON error body the whole API uses.
string_response make_error_response(http::status status, wire::api_error error,
                                    std::string_view detail);

}  // namespace pgship::http_server

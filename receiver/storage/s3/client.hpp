#pragma once
// A blocking S3 client for the storage threads: SigV4-signed requests (the payload's SHA-256
// always signed, as Swift's s3api and Ceph RGW verify it) over kept-alive HTTP or HTTPS
// connections, retried with backoff on network errors and 5xx answers. Each connection drives
// its own io_context, so beast's timeouts hold for blocking calls too. Thread-safe:
// connections are pooled, one request at a time on each.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include "storage/s3/sigv4.hpp"

namespace boost::asio::ssl {
class context;
}

namespace pgship::receiver::s3 {

struct client_config {
  std::string endpoint;  // http[s]://host[:port]
  std::string bucket;
  credentials creds;
  bool path_style = true;  // virtual-host style puts the bucket in the host name
  std::optional<std::filesystem::path> ca_file;
  std::chrono::seconds timeout{60};  // for each read or write, not a whole transfer
  int attempts = 5;
};

/// What a request sends: `text`, or `length` bytes of the open file `fd` from `offset`.
struct body_source {
  std::string_view text;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string sha256;  // hex; computed from `text` when empty (a file body must give it)
};

struct request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string key;                                           // "" addresses the bucket
  std::vector<std::pair<std::string, std::string>> query;    // unencoded
  std::vector<std::pair<std::string, std::string>> headers;  // signed too
  body_source body;
};

struct response {
  unsigned status = 0;
  boost::beast::http::fields headers;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  /// "403 AccessDenied: Access Denied", for logs (never carries credentials).
  std::string describe() const;
  /// The ETag header without its quotes.
  std::string etag() const;
};

struct connection;

/// The body of a GET, read as it arrives. Keeps its connection until the end.
class body_reader {
 public:
  ~body_reader();
  body_reader(const body_reader&) = delete;
  body_reader& operator=(const body_reader&) = delete;
  /// Up to buf.size() bytes; `got` = 0 at the end.
  std::error_code read(std::span<char> buf, std::size_t& got);

 private:
  friend class client;
  struct state;
  explicit body_reader(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

class client {
 public:
  /// Throws config_error when the endpoint is not an http(s) URL or the CA file cannot load.
  explicit client(client_config cfg);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  const client_config& config() const { return cfg_; }

  /// Sends `req`, retrying what may succeed on another try; `out` holds the last answer. An
  /// error only when no answer came at all.
  std::error_code send(const request& req, response& out);
  /// GET of `key` with `headers` (Range, If-Match): on a 2xx answer `reader` streams its body;
  /// otherwise `head` holds the whole answer and `reader` is null.
  std::error_code get(const std::string& key,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      response& head, std::unique_ptr<body_reader>& reader);

 private:
  friend class body_reader;
  std::error_code attempt(const request& req, response& out, bool stream_body,
                          std::unique_ptr<connection>& conn);
  std::unique_ptr<connection> take_connection(std::error_code& ec);
  void give_back(std::unique_ptr<connection> conn);

  client_config cfg_;
  bool tls_ = false;
  std::string host_, port_, host_header_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<connection>> idle_;
};

}  // namespace pgship::receiver::s3

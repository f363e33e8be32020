#include "storage/s3/client.hpp"
#include <algorithm>
#include <random>
#include <thread>
#include <variant>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/optional/optional.hpp>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <pgship/common/config.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/sha256.hpp>

#include "storage/s3/xml.hpp"

namespace pgship::receiver::s3 {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// One kept-alive connection with its own io_context: a blocking call starts the async
// operation and runs the context until it completes, so beast's timeouts apply.
struct connection {
  net::io_context io;
  std::variant<std::monostate, beast::tcp_stream, tls_stream> stream;
  beast::flat_buffer buffer;
  std::chrono::seconds timeout{60};
  std::chrono::steady_clock::time_point idle_since;

  beast::tcp_stream& lowest() {
    if (auto* t = std::get_if<tls_stream>(&stream)) return beast::get_lowest_layer(*t);
    return std::get<beast::tcp_stream>(stream);
  }

  // Runs one async operation `start(handler)` to completion.
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result;
    lowest().expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  template <class F>
  beast::error_code on_stream(F&& f) {
    if (auto* t = std::get_if<tls_stream>(&stream)) return f(*t);
    return f(std::get<beast::tcp_stream>(stream));
  }
};

namespace {

constexpr std::size_t file_chunk = 1 << 20;
constexpr auto max_idle = std::chrono::seconds(4);
constexpr std::size_t max_answer = 16 << 20;  // XML listings and records are far smaller

std::string encoded_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  for (const auto& [k, v] : query) {
    out += out.empty() ? "?" : "&";
    out += uri_encode(k, false) + "=" + uri_encode(v, false);
  }
  return out;
}

bool retryable(unsigned status) {
  return status == 500 || status == 502 || status == 503 || status == 504 || status == 429;
}

std::chrono::milliseconds backoff(int attempt) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto base = std::min(5000, 200 << std::min(attempt, 5));
  return std::chrono::milliseconds(base / 2 + static_cast<int>(rng() % (base / 2 + 1)));
}

}  // namespace

std::string response::describe() const {
  std::string out = std::to_string(status);
  if (const auto doc = parse_xml(body); doc && doc->name == "Error") {
    out += " " + doc->text_of("Code");
    if (const auto msg = doc->text_of("Message"); !msg.empty()) out += ": " + msg;
  }
  return out;
}

std::string response::etag() const {
  std::string e(headers[http::field::etag]);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

client::client(client_config cfg) : cfg_(std::move(cfg)) {
  std::string_view url = cfg_.endpoint;
  if (url.starts_with("https://")) {
    tls_ = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    throw config::config_error("S3_ENDPOINT=\"" + redact_url(cfg_.endpoint) +
                               "\" is not an http(s) URL");
  }
  while (url.ends_with('/'))
    url.remove_suffix(1);
  if (url.empty() || url.find('/') != std::string_view::npos) {
    throw config::config_error("S3_ENDPOINT=\"" + redact_url(cfg_.endpoint) +
                               "\" must be scheme://host[:port] without a path");
  }
  // Credentials belong in S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY; in the URL they would
  // become part of the host name.
  if (url.find('@') != std::string_view::npos) {
    throw config::config_error("S3_ENDPOINT=\"" + redact_url(cfg_.endpoint) +
                               "\" must not hold credentials (user:password@): set "
                               "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY instead");
  }
  const auto colon = url.rfind(':');
  const bool bracketed = url.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || url[colon - 1] == ']')) {
    host_ = std::string(url.substr(0, colon));
    port_ = std::string(url.substr(colon + 1));
  } else {
    host_ = std::string(url);
    port_ = tls_ ? "443" : "80";
  }
  if (bracketed) host_ = host_.substr(1, host_.size() - 2);
  const bool default_port = port_ == (tls_ ? "443" : "80");
  const std::string authority = (bracketed ? "[" + host_ + "]" : host_);
  host_header_ =
      (cfg_.path_style ? "" : cfg_.bucket + ".") + authority + (default_port ? "" : ":" + port_);
  if (!cfg_.path_style) host_ = cfg_.bucket + "." + host_;
  if (tls_) {
    tls_context_ = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    tls_context_->set_verify_mode(net::ssl::verify_peer);
    try {
      if (cfg_.ca_file) {
        tls_context_->load_verify_file(cfg_.ca_file->string());
      } else {
        tls_context_->set_default_verify_paths();
      }
    } catch (const boost::system::system_error& e) {
      throw config::config_error("S3_CA_FILE: cannot load: " + std::string(e.what()));
    }
  }
}

client::~client() = default;

std::unique_ptr<connection> client::take_connection(std::error_code& ec) {
  {
    std::lock_guard lock(mutex_);
    // Servers close idle connections after a few seconds (and a burst leaves several
    // behind): an old one would only cost a failed attempt.
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(idle_, [&](const auto& c) { return now - c->idle_since > max_idle; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  auto conn = std::make_unique<connection>();
  conn->timeout = cfg_.timeout;
  tcp::resolver resolver(conn->io);
  boost::system::error_code rec;
  const auto endpoints = resolver.resolve(host_, port_, rec);
  if (rec) {
    ec = rec;
    return nullptr;
  }
  if (tls_) {
    conn->stream.emplace<tls_stream>(conn->io, *tls_context_);
  } else {
    conn->stream.emplace<beast::tcp_stream>(conn->io);
  }
  ec = conn->run([&](auto handler) { conn->lowest().async_connect(endpoints, handler); });
  if (ec) return nullptr;
  if (auto* t = std::get_if<tls_stream>(&conn->stream)) {
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    if (SSL_ctrl(t->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(host_.c_str())) != 1) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return nullptr;
    }
    t->set_verify_callback(net::ssl::host_name_verification(host_));
    ec = conn->run([&](auto handler) {
      t->async_handshake(net::ssl::stream_base::client,
                         [handler](beast::error_code e) mutable { handler(e); });
    });
    if (ec) return nullptr;
  }
  return conn;
}

void client::give_back(std::unique_ptr<connection> conn) {
  conn->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (idle_.size() < 16) idle_.push_back(std::move(conn));
}

std::error_code client::attempt(const request& req, response& out, bool stream_body,
                                std::unique_ptr<connection>& conn) {
  std::error_code ec;
  conn = take_connection(ec);
  if (!conn) return ec;

  const std::string path = (cfg_.path_style ? "/" + cfg_.bucket : std::string()) +
                           (req.key.empty() ? "" : "/" + req.key);
  const std::string payload_sha =
      req.body.sha256.empty() ? to_hex(sha256_of(req.body.text)) : req.body.sha256;
  const std::uint64_t length = req.body.fd >= 0 ? req.body.length : req.body.text.size();
  const auto now = std::chrono::system_clock::now();
  const std::string date = amz_date(now);

  signable s{std::string(http::to_string(req.method)), path, req.query, {}, payload_sha};
  s.headers = {{"host", host_header_}, {"x-amz-date", date}, {"x-amz-content-sha256", payload_sha}};
  for (const auto& h : req.headers)
    s.headers.push_back(h);

  http::request<http::empty_body> head{req.method,
                                       uri_encode(path, true) + encoded_query(req.query), 11};
  for (const auto& [k, v] : s.headers)
    head.set(k, v);
  head.set(http::field::authorization, authorization(s, cfg_.creds, now));
  // Every request says how long its body is, an empty one too (S3 wants it on PUT and POST).
  head.content_length(length);
  head.keep_alive(true);

  http::request_serializer<http::empty_body> serializer{head};
  ec = conn->on_stream([&](auto& stream) {
    return conn->run([&](auto handler) { http::async_write_header(stream, serializer, handler); });
  });
  if (ec) return ec;
  if (req.body.fd < 0) {
    if (!req.body.text.empty()) {
      ec = conn->on_stream([&](auto& stream) {
        return conn->run([&](auto handler) {
          net::async_write(stream, net::buffer(req.body.text.data(), req.body.text.size()),
                           handler);
        });
      });
      if (ec) return ec;
    }
  } else if (auto* plain = std::get_if<beast::tcp_stream>(&conn->stream)) {
    // Plain TCP: the kernel copies file pages to the socket (sendfile), no pass through ours.
    // The socket is non-blocking once async operations ran on it: wait until it is writable.
    auto& socket = plain->socket();
    for (std::uint64_t sent = 0; sent < length;) {
      off_t at = static_cast<off_t>(req.body.offset + sent);
      const ssize_t n = ::sendfile(
          socket.native_handle(), req.body.fd, &at,
          static_cast<std::size_t>(std::min<std::uint64_t>(length - sent, std::uint64_t{1} << 30)));
      if (n > 0) {
        sent += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0) return std::make_error_code(std::errc::io_error);  // the file is shorter
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return {errno, std::generic_category()};
      // An endpoint that stops reading must not hold this thread for ever.
      pollfd writable{socket.native_handle(), POLLOUT, 0};
      const int ready = ::poll(&writable, 1, static_cast<int>(conn->timeout.count() * 1000));
      if (ready == 0) return std::make_error_code(std::errc::timed_out);
      if (ready < 0 && errno != EINTR) return {errno, std::generic_category()};
    }
  } else {
    std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(file_chunk, length)));
    io::range_reader range(req.body.fd, req.body.offset, length);
    for (std::size_t n = 0;;) {
      if (auto rec = range.read(chunk, n)) return rec;  // io_error: the file is shorter
      if (n == 0) break;
      ec = conn->on_stream([&](auto& stream) {
        return conn->run(
            [&](auto handler) { net::async_write(stream, net::buffer(chunk.data(), n), handler); });
      });
      if (ec) return ec;
    }
  }

  if (stream_body) return {};  // the caller reads the answer (get())
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_answer);
  if (req.method == http::verb::head) parser.skip(true);
  ec = conn->on_stream([&](auto& stream) {
    return conn->run(
        [&](auto handler) { http::async_read(stream, conn->buffer, parser, handler); });
  });
  if (ec) return ec;
  auto res = parser.release();
  out.status = res.result_int();
  out.body = std::move(res.body());
  // Swift's s3api answers a HEAD 404 with a chunked body ("0\r\n\r\n") that a HEAD must not
  // have: the connection would start the next answer with it, so it is not reused.
  const bool keep = res.keep_alive() && !(req.method == http::verb::head && res.chunked());
  out.headers = std::move(res.base());
  if (keep) give_back(std::move(conn));
  conn.reset();
  return {};
}

std::error_code client::send(const request& req, response& out) {
  std::error_code ec;
  for (int i = 0; i < cfg_.attempts; ++i) {
    if (i > 0) std::this_thread::sleep_for(backoff(i));
    out = {};
    std::unique_ptr<connection> conn;
    ec = attempt(req, out, false, conn);
    if (!ec && !retryable(out.status)) return {};
  }
  return ec;  // the last answer (a 5xx) stays in `out` when one came
}

// A GET's answer being read: the parser, its connection, and the bytes left over.
struct body_reader::state {
  client* owner = nullptr;
  std::unique_ptr<connection> conn;
  http::response_parser<http::buffer_body> parser;
  bool keep_alive = false;
};

body_reader::body_reader(std::unique_ptr<state> s) : state_(std::move(s)) {}

body_reader::~body_reader() {
  // A connection whose answer was read to its end can serve the next request.
  if (state_ && state_->conn && state_->parser.is_done() && state_->keep_alive) {
    state_->owner->give_back(std::move(state_->conn));
  }
}

std::error_code body_reader::read(std::span<char> buf, std::size_t& got) {
  got = 0;
  auto& s = *state_;
  if (!s.conn || s.parser.is_done()) return {};
  s.parser.get().body().data = buf.data();
  s.parser.get().body().size = buf.size();
  auto ec = s.conn->on_stream([&](auto& stream) {
    return s.conn->run(
        [&](auto handler) { http::async_read(stream, s.conn->buffer, s.parser, handler); });
  });
  if (ec == http::error::need_buffer) ec = {};
  got = buf.size() - s.parser.get().body().size;
  if (ec) s.conn.reset();
  return std::error_code(ec);
}

std::error_code client::get(const std::string& key,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            response& head, std::unique_ptr<body_reader>& reader) {
  reader.reset();
  const request req{http::verb::get, key, {}, headers, {}};
  std::error_code ec;
  for (int i = 0; i < cfg_.attempts; ++i) {
    if (i > 0) std::this_thread::sleep_for(backoff(i));
    head = {};
    auto st = std::make_unique<body_reader::state>();
    st->owner = this;
    if ((ec = attempt(req, head, true, st->conn))) continue;
    st->parser.body_limit(boost::none);
    ec = st->conn->on_stream([&](auto& stream) {
      return st->conn->run([&](auto handler) {
        http::async_read_header(stream, st->conn->buffer, st->parser, handler);
      });
    });
    if (ec) continue;
    head.status = st->parser.get().result_int();
    head.headers = st->parser.get().base();
    st->keep_alive = st->parser.get().keep_alive();
    if (head.status / 100 == 2) {
      reader.reset(new body_reader(std::move(st)));
      return {};
    }
    // An error answer is small: read it whole for describe().
    std::string body;
    std::vector<char> piece(64 * 1024);
    body_reader r(std::move(st));
    for (std::size_t got = 1; got > 0 && body.size() < max_answer;) {
      if ((ec = r.read(piece, got))) break;
      body.append(piece.data(), got);
    }
    head.body = std::move(body);
    if (!ec && !retryable(head.status)) return {};
  }
  return ec;
}

}  // namespace pgship::receiver::s3

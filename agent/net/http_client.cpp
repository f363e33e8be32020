#include "net/http_client.hpp"
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <unistd.h>

#include <pgship/common/http/framing.hpp>
#include <pgship/common/io/async_pump.hpp>
#include <pgship/common/version.hpp>

#include "net/rate_limit.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t piece_size = 256 * 1024;
constexpr std::size_t large_piece_size = 1024 * 1024;
constexpr std::uint64_t small_body_limit = 16 * 1024 * 1024;

http_outcome transport_failure(errc kind, std::string message) {
  http_outcome out;
  out.failure = kind;
  out.message = std::move(message);
  return out;
}

// Memory's body pump: piece_size slices, each awaited, as pump_file_async sends a file's.
net::awaitable<std::error_code> send_in_pieces(std::span<const char> body,
                                               const io::async_block_sink& send) {
  while (!body.empty()) {
    const auto piece = body.first(std::min<std::size_t>(body.size(), piece_size));
    if (const auto ec = co_await send(piece)) co_return ec;
    body = body.subspan(piece.size());
  }
  co_return std::error_code{};
}

// One connection carries one request at a time: a second caller while one is on it would read
// the other's response. Callers that may overlap hold clients of their own; this turns one that
// does not into an error of its own instead of a crossed answer.
class exclusive_use {
 public:
  explicit exclusive_use(bool& busy) : busy_(busy), held_(!busy) { busy_ = true; }
  ~exclusive_use() {
    if (held_) busy_ = false;
  }
  exclusive_use(const exclusive_use&) = delete;
  exclusive_use& operator=(const exclusive_use&) = delete;
  bool held() const { return held_; }

 private:
  bool& busy_;
  bool held_;
};

http_outcome overlapping_request() {
  http_outcome out;
  out.failure = errc::internal;
  out.message = "a second request on a connection still busy with one (a bug in pgship)";
  return out;
}

}  // namespace

struct http_client::impl {
  net::any_io_executor ex;
  receiver_endpoint ep;
  tls_files tls;
  std::chrono::seconds timeout;
  std::optional<ssl::context> ssl_ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::shared_ptr<byte_rate_limiter> limiter;
  bool busy = false;  // a request is on the connection

  bool connected() const { return plain.has_value() || secure.has_value(); }

  void close() {
    error_code ignored;
    if (plain) plain->socket().close(ignored);
    if (secure) beast::get_lowest_layer(*secure).socket().close(ignored);
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Start-up style mistakes in the TLS files are reported per run, not thrown.
  std::optional<std::string> make_ssl_context() {
    if (ssl_ctx) return std::nullopt;
    auto made = make_client_tls_context(tls);
    if (!made) return made.error();
    ssl_ctx.emplace(std::move(*made));
    return std::nullopt;
  }

  net::awaitable<http_outcome> connect() {
    if (connected()) co_return http_outcome{};
    const std::string where = ep.host + ":" + ep.port;
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, use_tuple);
    if (rec) {
      co_return transport_failure(errc::receiver_unreachable,
                                  "cannot resolve " + ep.host + ": " + rec.message());
    }
    beast::tcp_stream stream(ex);
    stream.expires_after(timeout);
    auto [cec, endpoint] = co_await stream.async_connect(results, use_tuple);
    (void)endpoint;
    if (cec) {
      co_return transport_failure(errc::receiver_unreachable,
                                  "cannot connect to " + where + ": " + cec.message());
    }
    stream.socket().set_option(tcp::no_delay(true));
    if (!ep.tls) {
      plain.emplace(std::move(stream));
      co_return http_outcome{};
    }
    if (auto problem = make_ssl_context()) co_return transport_failure(errc::tls_failed, *problem);
    secure.emplace(std::move(stream), *ssl_ctx);
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(ep.host.c_str())) != 1) {
      close();
      co_return transport_failure(errc::tls_failed, "cannot set TLS server name " + ep.host);
    }
    secure->set_verify_callback(ssl::host_name_verification(ep.host));
    beast::get_lowest_layer(*secure).expires_after(timeout);
    auto [hec] = co_await secure->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      close();
      // Certificate and protocol refusals are TLS failures (retrying will not help); a reset
      // or timeout during the handshake is the network's, and worth a retry.
      const bool tls_refusal = hec.category() == net::error::get_ssl_category();
      co_return transport_failure(tls_refusal ? errc::tls_failed : errc::receiver_unreachable,
                                  "TLS handshake with " + where + " failed: " + hec.message());
    }
    co_return http_outcome{};
  }

  void arm_timer() {
    if (plain) plain->expires_after(timeout);
    if (secure) beast::get_lowest_layer(*secure).expires_after(timeout);
  }

  http_outcome io_failure(std::string_view what, const error_code& ec) {
    close();
    const std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
    return transport_failure(errc::receiver_unreachable,
                             std::string(what) + " " + ep.origin() + ": " + why);
  }

  void prepare(http_request& request) {
    request.version(11);
    const bool default_port = ep.port == (ep.tls ? "443" : "80");
    // An IPv6 literal goes in brackets: the receiver refuses a Host that is not host[:port].
    const auto host = ep.host.find(':') == std::string::npos ? ep.host : "[" + ep.host + "]";
    request.set(http::field::host, default_port ? host : host + ":" + ep.port);
    request.set(http::field::user_agent, std::string("pgship-agent/") + pgship::version);
  }

  template <class Stream>
  net::awaitable<http_outcome> read_response(Stream& stream, bool head_request) {
    http::response_parser<http::string_body> parser;
    if (head_request) parser.skip(true);
    co_return co_await read_text(stream, parser);
  }

  // After a header read with another body type: the rest of a small (error) body as text.
  template <class Stream, class Body>
  net::awaitable<http_outcome> finish_as_text(Stream& stream,
                                              http::response_parser<Body>&& header_read) {
    http::response_parser<http::string_body> parser(std::move(header_read));
    co_return co_await read_text(stream, parser);
  }

  // A response whose end could be read two ways is not read on: the connection is closed.
  template <class Parser>
  std::optional<http_outcome> refuse_framing(const Parser& parser) {
    const auto& header = parser.get().base();
    const auto problem = http_framing::framing_problem(header, header.version());
    if (!problem) return std::nullopt;
    close();
    return transport_failure(errc::receiver_unreachable,
                             "malformed response from " + ep.origin() + ": " + *problem);
  }

  // Reads the (rest of the) response into `parser`, a small body at most.
  template <class Stream>
  net::awaitable<http_outcome> read_text(Stream& stream,
                                         http::response_parser<http::string_body>& parser) {
    parser.body_limit(small_body_limit);
    if (!parser.is_header_done()) {
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      (void)hn;
      if (hec) co_return io_failure("reading the response of", hec);
    }
    if (auto refused = refuse_framing(parser)) co_return std::move(*refused);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)n;
    if (ec) co_return io_failure("reading the response of", ec);
    http_outcome out;
    out.response = parser.release();
    if (!out.response.keep_alive()) close();
    co_return out;
  }

  template <class Stream>
  net::awaitable<http_outcome> send_on(Stream& stream, http_request& request) {
    arm_timer();
    request.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, request, use_tuple);
    (void)n;
    if (ec) co_return io_failure("sending to", ec);
    co_return co_await read_response(stream, request.method() == http::verb::head);
  }

  // What sends a body through `send`, one piece at a time: a file range or bytes in memory.
  // Its own failure (not the socket's) is a local_io_failed with its message.
  using body_pump = std::function<net::awaitable<std::error_code>(const io::async_block_sink&)>;

  template <class Stream>
  net::awaitable<http_outcome> send_range_on(Stream& stream, http_request& request, int fd,
                                             std::uint64_t offset, std::uint64_t length,
                                             const std::function<void(std::size_t)>& on_sent) {
    body_pump pump = [fd, offset, length](const io::async_block_sink& send) {
      return io::pump_file_async(fd, offset, length, send, piece_size);
    };
    co_return co_await send_body_on(stream, request, length, pump, on_sent);
  }

  template <class Stream>
  net::awaitable<http_outcome> send_body_on(Stream& stream, http_request& request,
                                            std::uint64_t length, const body_pump& pump,
                                            const std::function<void(std::size_t)>& on_sent) {
    arm_timer();
    request.set(http::field::expect, "100-continue");
    request.content_length(length);
    http::request_serializer<http::string_body> serializer(request);
    auto [hec, hn] = co_await http::async_write_header(stream, serializer, use_tuple);
    (void)hn;
    if (hec) co_return io_failure("sending to", hec);

    // The interim 100 (or the final refusal) before any body byte.
    http::response_parser<http::empty_body> interim;
    auto [iec, in] = co_await http::async_read_header(stream, buffer, interim, use_tuple);
    (void)in;
    if (iec) co_return io_failure("reading the response of", iec);
    if (auto refused = refuse_framing(interim)) co_return std::move(*refused);
    if (interim.get().result() != http::status::continue_) {
      // A final answer before any body byte: the connection cannot carry another request.
      auto out = co_await finish_as_text(stream, std::move(interim));
      close();
      co_return out;
    }

    error_code write_ec;
    io::async_block_sink send =
        [&](std::span<const char> piece) -> net::awaitable<std::error_code> {
      if (limiter) co_await limiter->take(piece.size());
      arm_timer();
      auto [wec, wn] =
          co_await net::async_write(stream, net::buffer(piece.data(), piece.size()), use_tuple);
      if (wec) {
        write_ec = wec;
        co_return std::make_error_code(std::errc::connection_aborted);
      }
      if (on_sent) on_sent(wn);
      co_return std::error_code{};
    };
    const auto read_ec = co_await pump(send);
    if (write_ec) {
      // The receiver may have answered (507 out of space, 413) and closed before taking
      // the whole body: its answer says more than the broken pipe does.
      auto early = co_await read_response(stream, false);
      if (early.ok()) {
        close();
        co_return early;
      }
      co_return io_failure("sending to", write_ec);
    }
    if (read_ec) {
      close();
      co_return transport_failure(errc::local_io_failed,
                                  read_ec == std::errc::io_error
                                      ? std::string("backup file shrank while uploading")
                                      : "reading the backup file: " + read_ec.message());
    }
    arm_timer();
    co_return co_await read_response(stream, false);
  }

  // A body of known length read straight from the stream in large reads (beast's parser reads
  // at most 64 KiB a time, each with its own timer: a large download spent more on those than
  // on its bytes); what the header read buffered beyond the header comes first.
  template <class Stream>
  net::awaitable<http_outcome> read_sized_body(Stream& stream, http::response_header<> header,
                                               bool keep_alive, std::uint64_t length,
                                               const body_sink& sink) {
    std::uint64_t left = length;
    if (buffer.size() > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), left));
      const auto* data = static_cast<const char*>(buffer.data().data());
      const std::span<const char> early(data, n);
      if (const auto ec = co_await sink(early)) {
        close();
        co_return transport_failure(errc::local_io_failed, "storing the download: " + ec.message());
      }
      buffer.consume(n);
      left -= n;
    }
    std::vector<char> piece(large_piece_size);
    while (left > 0) {
      arm_timer();
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), left));
      auto [ec, got] = co_await stream.async_read_some(net::buffer(piece.data(), want), use_tuple);
      if (ec) co_return io_failure("downloading from", ec);
      left -= got;
      const std::span<const char> received(piece.data(), got);
      if (const auto sink_ec = co_await sink(received)) {
        close();
        co_return transport_failure(errc::local_io_failed,
                                    "storing the download: " + sink_ec.message());
      }
    }
    http_outcome out;
    out.response = http_response(std::move(header));
    if (!keep_alive) close();
    co_return out;
  }

  template <class Stream>
  net::awaitable<http_outcome> download_on(Stream& stream, http_request& request,
                                           const body_sink& sink) {
    arm_timer();
    request.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, request, use_tuple);
    (void)n;
    if (ec) co_return io_failure("sending to", ec);

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    (void)hn;
    if (hec) co_return io_failure("reading the response of", hec);
    if (auto refused = refuse_framing(parser)) co_return std::move(*refused);
    if (parser.get().result_int() / 100 != 2) {
      co_return co_await finish_as_text(stream, std::move(parser));
    }

    if (const auto length = parser.content_length(); length && !parser.chunked()) {
      http::response_header<> header = parser.get().base();
      const bool keep_alive = parser.get().keep_alive();
      co_return co_await read_sized_body(stream, std::move(header), keep_alive, *length, sink);
    }
    std::vector<char> piece(piece_size);
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      arm_timer();
      auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
      (void)rn;
      if (rec && rec != http::error::need_buffer) co_return io_failure("downloading from", rec);
      const std::size_t got = piece.size() - parser.get().body().size;
      if (got > 0) {
        const std::span<const char> received(piece.data(), got);
        const auto sink_ec = co_await sink(received);
        if (sink_ec) {
          close();
          co_return transport_failure(errc::local_io_failed,
                                      "storing the download: " + sink_ec.message());
        }
      }
    }
    http_outcome out;
    http::response_header<> header = parser.get().base();
    out.response = http_response(std::move(header));
    if (!parser.get().keep_alive()) close();
    co_return out;
  }
};

http_client::http_client(net::any_io_executor ex, receiver_endpoint endpoint, tls_files tls,
                         std::chrono::seconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->ex = std::move(ex);
  impl_->ep = std::move(endpoint);
  impl_->tls = std::move(tls);
  impl_->timeout = timeout;
}

http_client::~http_client() = default;

const receiver_endpoint& http_client::endpoint() const {
  return impl_->ep;
}

void http_client::limit_uploads(std::shared_ptr<byte_rate_limiter> limiter) {
  impl_->limiter = std::move(limiter);
}

void http_client::close() {
  impl_->close();
}

net::awaitable<http_outcome> http_client::send(http_request request) {
  const exclusive_use use(impl_->busy);
  if (!use.held()) co_return overlapping_request();
  impl_->prepare(request);
  // A kept-alive connection the receiver has since closed fails on first use: one retry on a
  // fresh connection covers that, and only that.
  const bool reused = impl_->connected();
  for (int attempt = 0;; ++attempt) {
    auto connected = co_await impl_->connect();
    if (!connected.ok()) co_return connected;
    http_outcome out;
    if (impl_->secure) {
      out = co_await impl_->send_on(*impl_->secure, request);
    } else {
      out = co_await impl_->send_on(*impl_->plain, request);
    }
    if (out.ok() || !reused || attempt > 0) co_return out;
  }
}

net::awaitable<http_outcome> http_client::send_file_range(
    http_request request, int fd, std::uint64_t offset, std::uint64_t length,
    std::function<void(std::size_t)> on_sent) {
  const exclusive_use use(impl_->busy);
  if (!use.held()) co_return overlapping_request();
  impl_->prepare(request);
  auto connected = co_await impl_->connect();
  if (!connected.ok()) co_return connected;
  if (impl_->secure) {
    co_return co_await impl_->send_range_on(*impl_->secure, request, fd, offset, length, on_sent);
  }
  co_return co_await impl_->send_range_on(*impl_->plain, request, fd, offset, length, on_sent);
}

net::awaitable<http_outcome> http_client::send_bytes(http_request request,
                                                     std::span<const char> body,
                                                     std::function<void(std::size_t)> on_sent) {
  const exclusive_use use(impl_->busy);
  if (!use.held()) co_return overlapping_request();
  impl_->prepare(request);
  auto connected = co_await impl_->connect();
  if (!connected.ok()) co_return connected;
  impl::body_pump pump = [body](const io::async_block_sink& send) {
    return send_in_pieces(body, send);
  };
  if (impl_->secure) {
    co_return co_await impl_->send_body_on(*impl_->secure, request, body.size(), pump, on_sent);
  }
  co_return co_await impl_->send_body_on(*impl_->plain, request, body.size(), pump, on_sent);
}

net::awaitable<http_outcome> http_client::download(http_request request, body_sink sink) {
  const exclusive_use use(impl_->busy);
  if (!use.held()) co_return overlapping_request();
  impl_->prepare(request);
  auto connected = co_await impl_->connect();
  if (!connected.ok()) co_return connected;
  if (impl_->secure) co_return co_await impl_->download_on(*impl_->secure, request, sink);
  co_return co_await impl_->download_on(*impl_->plain, request, sink);
}

}  // namespace pgship::agent

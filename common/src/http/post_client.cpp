#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include <pgship/common/base64.hpp>
#include <pgship/common/http/post_client.hpp>

namespace pgship::http_client {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

post_result failed(std::string why) {
  post_result r;
  r.error = std::move(why);
  return r;
}

template <class Stream>
net::awaitable<post_result> exchange(Stream& stream, http::request<http::string_body>& req) {
  auto [wec, written] = co_await http::async_write(stream, req, use_tuple);
  (void)written;
  if (wec) co_return failed("sending failed: " + wec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  (void)read;
  if (rec) co_return failed("no answer: " + rec.message());
  post_result r;
  r.status = parser.get().result_int();
  r.body = parser.get().body().substr(0, 4096);
  co_return r;
}

}  // namespace

net::awaitable<post_result> post(net::any_io_executor ex, post_request request) {
  const auto parsed = boost::urls::parse_uri(request.url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->host().empty()) {
    co_return failed("not an http(s) URL");
  }
  const bool tls = parsed->scheme() == "https";
  const std::string host = parsed->host();
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : tls ? "443" : "80";
  std::string target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, parsed->has_port() ? host + ":" + port : host);
  req.set(http::field::user_agent, "pgship");
  req.set(http::field::content_type, request.content_type);
  req.set(http::field::connection, "close");
  // https://user:password@host/ (an Alertmanager behind basic auth): the header, not the URL.
  if (parsed->has_userinfo()) {
    req.set(http::field::authorization, "Basic " + base64_encode(std::string(parsed->user()) + ":" +
                                                                 std::string(parsed->password())));
  }
  for (const auto& [name, value] : request.headers)
    req.set(name, value);
  req.body() = std::move(request.body);
  req.prepare_payload();

  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(host, port, use_tuple);
  if (rec) co_return failed("cannot resolve the host: " + rec.message());
  beast::tcp_stream stream(ex);
  stream.expires_after(request.timeout);
  auto [cec, endpoint] = co_await stream.async_connect(results, use_tuple);
  (void)endpoint;
  if (cec) co_return failed("cannot connect: " + cec.message());
  if (!tls) co_return co_await exchange(stream, req);

  std::optional<ssl::context> ctx;
  try {
    ctx.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer);
    ctx->set_default_verify_paths();
  } catch (const boost::system::system_error& e) {
    co_return failed("TLS set-up failed: " + e.code().message());
  }
  ssl::stream<beast::tcp_stream> secure(std::move(stream), *ctx);
  // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
  SSL_ctrl(secure.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(host.c_str()));
  secure.set_verify_callback(ssl::host_name_verification(host));
  auto [hec] = co_await secure.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) co_return failed("TLS handshake failed: " + hec.message());
  co_return co_await exchange(secure, req);
}

}  // namespace pgship::http_client

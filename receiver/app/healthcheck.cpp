#include "app/healthcheck.hpp"
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <pgship/common/http/net.hpp>
#include <pgship/common/whoami.hpp>
#include <pgship/common/wire/paths.hpp>

namespace pgship::receiver {
namespace {

// One GET on `stream`; prints the body, returns the status.
template <class Stream>
http::status ask(Stream& stream, const std::string& host, std::string_view path) {
  http::request<http::empty_body> req{http::verb::get, path, 11};
  // An IPv6 literal goes in brackets: our server refuses a Host that is not host[:port].
  req.set(http::field::host, host.find(':') == std::string::npos ? host : "[" + host + "]");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  std::printf("%s\n", res.body().c_str());
  return res.result();
}

// GET `path` from the server `s` configures, over loopback, on a fresh connection.
http::status ask_local(const settings& s, std::string_view path) {
  net::io_context io;
  const auto address = s.listen_addr == "0.0.0.0" ? std::string("127.0.0.1")
                       : s.listen_addr == "::"    ? std::string("::1")
                                                  : s.listen_addr;
  beast::tcp_stream tcp(io);
  tcp.expires_after(std::chrono::seconds(5));
  tcp.connect(tcp::endpoint(net::ip::make_address(address), static_cast<unsigned short>(s.port)));
  if (!s.tls_cert_file) return ask(tcp, address, path);
  // Our own server on loopback: the point is liveness, not the certificate. With mutual TLS
  // the server's own certificate is offered as the client certificate.
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);
  if (s.tls_client_ca_file) {
    tls.use_certificate_chain_file(s.tls_cert_file->string());
    tls.use_private_key_file(s.tls_key_file->string(), net::ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), tls);
  stream.handshake(net::ssl::stream_base::client);
  return ask(stream, address, path);
}

}  // namespace

int healthcheck(const settings& s, bool full) {
  try {
    auto status = ask_local(s, full ? wire::health_path : wire::readyz_path);
    // A server older than /readyz answers 404 there: its /health is the question it can answer.
    if (!full && status == http::status::not_found) status = ask_local(s, wire::health_path);
    return status == http::status::ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgship-receiver healthcheck: %s\n", e.what());
    return 1;
  }
}

}  // namespace pgship::receiver

// The HTTP server core as a client on the wire sees it: request heads, Content-Length and
// chunked bodies (extensions, trailers), pipelining, framing refusals. Each input is written
// raw to the real server over loopback, then the write side is shut and the answer read.

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/server.hpp>

namespace {

using namespace pgship;
using namespace pgship::http_server;

// Reads and discards the whole body; 200 with its size, 400 when the body is bad.
net::awaitable<void> drain(exchange& ex) {
  std::array<char, 512> chunk;
  std::uint64_t total = 0;
  while (true) {
    auto [ec, n] = co_await ex.read_body(net::buffer(chunk));
    if (ec) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_body, ec.message());
      co_return;
    }
    if (n == 0) break;
    total += n;
  }
  co_await ex.respond_json(http::status::ok, "{\"size\":" + std::to_string(total) + "}");
}

struct running_server {
  net::io_context io;
  std::unique_ptr<server> srv;
  std::thread thread;
  unsigned short port = 0;

  running_server() {
    router r;
    r.add(http::verb::get, "/hello/{name}", [](exchange& ex) -> net::awaitable<void> {
      string_response res{http::status::ok, 11};
      res.body() = "hello " + std::string(ex.params().get("name"));
      co_await ex.respond(std::move(res));
    });
    r.add(http::verb::post, "/upload", drain, {.body_limit = std::nullopt});
    r.add(http::verb::put, "/small", drain, {.body_limit = 64});
    server_options o;
    o.idle_timeout = std::chrono::seconds(2);
    srv = std::make_unique<server>(io.get_executor(), std::move(r), std::move(o));
    port = srv->listen({net::ip::make_address("127.0.0.1"), 0}).port();
    // The accept loop never ends while fuzzing: a throw from it is a bug to crash on.
    srv->start([](std::exception_ptr e) {
      if (e) std::abort();
    });
    thread = std::thread([this] { io.run(); });
  }
};

running_server* the_server = nullptr;  // never destroyed: its thread runs until exit

// libFuzzer's SIGALRM (for -timeout) interrupts system calls: every one is retried on EINTR.
int connect_to_server() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) __builtin_trap();
  const timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(the_server->port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno != EINTR) __builtin_trap();  // the server must always accept
  pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
  while (::poll(&p, 1, 2000) < 0 && errno == EINTR) {
  }
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) __builtin_trap();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::off);
  the_server = new running_server;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = connect_to_server();
  for (std::size_t sent = 0; sent < size;) {
    const auto n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early (431, 400) and reset the rest
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);

  std::string reply;
  std::array<char, 4096> buf;
  while (true) {
    const auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, reset or the 2 s timeout
    reply.append(buf.data(), static_cast<std::size_t>(n));
  }
  // Whatever the server says is an HTTP/1.x response (1.0 to a 1.0 request).
  if (!reply.empty() && !reply.starts_with("HTTP/1.1 ") && !reply.starts_with("HTTP/1.0 ")) {
    __builtin_trap();
  }
  ::close(fd);
  return 0;
}

// The common HTTP server core, served on 127.0.0.1:0 and exercised with real clients (our
// Beast test client, raw sockets and curl).

#include <array>
#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/server.hpp>
#include <pgship/common/metrics_text.hpp>
#include <pgship/common/sha256.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::http_server {
namespace {

using namespace std::chrono_literals;
using test::http_request;
using test::http_send;
using verb = http::verb;

// Runs a server on its own io_context thread for the duration of a test.
class running_server {
 public:
  running_server(router routes, server_options options = {}) {
    server_ = std::make_unique<server>(io_.get_executor(), std::move(routes), std::move(options));
    port_ = server_->listen({net::ip::make_address("127.0.0.1"), 0}).port();
    // A test server whose accept loop dies fails the test at once.
    server_->start([](std::exception_ptr e) {
      if (e) std::terminate();
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~running_server() {
    if (!stopped_) shutdown();
    io_.stop();
    thread_.join();
  }

  unsigned short port() const { return port_; }
  server& get() { return *server_; }

  /// Runs the graceful shutdown and returns how long it took.
  std::chrono::milliseconds shutdown() {
    stopped_ = true;
    const auto start = std::chrono::steady_clock::now();
    std::promise<void> done;
    net::co_spawn(io_, server_->shutdown(), [&](std::exception_ptr) { done.set_value(); });
    done.get_future().wait();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

 private:
  net::io_context io_;
  std::unique_ptr<server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
  bool stopped_ = false;
};

net::awaitable<void> hello(exchange& ex) {
  string_response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = "hello " + std::string(ex.params().get("name"));
  if (auto q = ex.query_param("greeting")) res.body() += " " + *q;
  co_await ex.respond(std::move(res));
}

// Streams the body through SHA-256 in small chunks and answers with its size and hash.
net::awaitable<void> hash_body(exchange& ex) {
  sha256 hasher;
  std::array<char, 4096> chunk;
  while (true) {
    auto [ec, n] = co_await ex.read_body(net::buffer(chunk));
    if (ec) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_body, ec.message());
      co_return;
    }
    if (n == 0) break;
    hasher.update(chunk.data(), n);
  }
  const auto size = hasher.bytes();
  co_await ex.respond_json(
      http::status::ok,
      "{\"size\":" + std::to_string(size) + ",\"sha256\":\"" + to_hex(hasher.finish()) + "\"}");
}

router test_routes() {
  router r;
  r.add(verb::get, "/hello/{name}", hello);
  r.add(verb::post, "/hash", hash_body, {.body_limit = std::nullopt});
  r.add(verb::post, "/small", hash_body, {.body_limit = 1024});
  r.add(verb::get, "/slow", [](exchange& ex) -> net::awaitable<void> {
    net::steady_timer t(co_await net::this_coro::executor, 500ms);
    co_await t.async_wait(net::use_awaitable);
    co_await ex.respond_json(http::status::ok, "{\"slow\":true}");
  });
  r.add(verb::get, "/throws", [](exchange&) -> net::awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  r.add(verb::get, "/silent", [](exchange&) -> net::awaitable<void> { co_return; });
  r.add(verb::get, "/stream", [](exchange& ex) -> net::awaitable<void> {
    header_response res{http::status::ok, 11};
    res.content_length(3 * 1000);
    if (co_await ex.respond_header(std::move(res))) co_return;
    const std::string part(1000, 'x');
    for (int i = 0; i < 3; ++i) {
      if (co_await ex.write_body(net::buffer(part))) co_return;
    }
  });
  return r;
}

TEST(HttpServer, RoutesCapturesAndQuery) {
  running_server s(test_routes());
  auto res = http_send(s.port(), {.target = "/hello/w%6Frld?greeting=hi%20there"});
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "hello world hi there");
  EXPECT_EQ(res[http::field::server], "pgship");
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  running_server s(test_routes());
  test::http_connection c(s.port());
  for (int i = 0; i < 3; ++i) {
    auto res = c.send({.target = "/hello/n" + std::to_string(i)});
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.body(), "hello n" + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST(HttpServer, UnknownPathIs404WithJsonError) {
  running_server s(test_routes());
  auto res = http_send(s.port(), {.target = "/nope"});
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_NE(res.body().find("\"error\":\"not_found\""), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("\"detail\""), std::string::npos);
}

TEST(HttpServer, WrongMethodIs405WithAllow) {
  running_server s(test_routes());
  auto res = http_send(s.port(), {.method = verb::delete_, .target = "/hash"});
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "POST");
}

TEST(HttpServer, OversizedHeaderIs431AndClosed) {
  server_options o;
  o.header_limit = 8 * 1024;
  running_server s(test_routes(), o);
  test::http_connection c(s.port());
  c.write_raw("GET /hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16 * 1024, 'a') +
              "\r\n\r\n");
  const std::string reply = c.read_until_close();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 431")) << reply.substr(0, 80);
  EXPECT_NE(reply.find("header_too_large"), std::string::npos);
}

TEST(HttpServer, MalformedRequestIs400) {
  running_server s(test_routes());
  test::http_connection c(s.port());
  c.write_raw("GET /hello/x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  const std::string reply = c.read_until_close();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 80);
}

// The core both servers share (the agent's control API included) frames as RFC 9112 asks.
TEST(HttpServer, AmbiguousFramingIs400AndWhatFollowsIsNeverARequest) {
  running_server s(test_routes());
  for (const std::string framing :
       {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", "Content-Length: 0, 0\r\n",
        "Content-Length: 0\r\nContent-Length: 0\r\n"}) {
    SCOPED_TRACE(framing);
    test::http_connection c(s.port());
    c.write_raw("POST /hash HTTP/1.1\r\nHost: x\r\n" + framing +
                "\r\nGET /hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string reply = c.read_until_close();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 120);
    EXPECT_EQ(reply.find("hello smuggled"), std::string::npos) << reply;
  }
}

TEST(HttpServer, MissingHostIs400) {
  running_server s(test_routes());
  test::http_connection c(s.port());
  c.write_raw("GET /hello/x HTTP/1.1\r\n\r\n");
  const std::string reply = c.read_until_close();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 120);
  EXPECT_NE(reply.find("Host"), std::string::npos) << reply;
}

TEST(HttpServer, EndlessChunkExtensionIs400) {
  running_server s(test_routes());
  test::http_connection c(s.port());
  c.write_raw("POST /hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=");
  const std::string reply = c.write_then_read_until_close(std::string(1 << 20, 'e'));
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 120);
  EXPECT_NE(reply.find("longer than 8192 bytes"), std::string::npos) << reply;
}

TEST(HttpServer, IdleConnectionIsClosedAfterTimeout) {
  server_options o;
  o.idle_timeout = 300ms;
  running_server s(test_routes(), o);
  test::http_connection c(s.port());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(5s));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);
}

TEST(HttpServer, StalledBodyIsDroppedAfterIdleTimeout) {
  server_options o;
  o.idle_timeout = 300ms;
  running_server s(test_routes(), o);
  test::http_connection c(s.port());
  c.write_raw("POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-a-little");
  EXPECT_TRUE(c.closed_by_peer(5s));
}

TEST(HttpServer, StreamsChunkedAndFixedLengthBodies) {
  running_server s(test_routes());
  test::temp_dir dir;
  std::string data;
  for (std::uint64_t i = 0; i < 300000; ++i)
    data += std::to_string(i * 7919 % 1000003) + ",";
  test::write_file(dir / "body.bin", data);
  const std::string expected = "{\"size\":" + std::to_string(data.size()) + ",\"sha256\":\"" +
                               to_hex(sha256_of(data)) + "\"}";
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port()) + "/hash";

  // curl sends Expect: 100-continue for bodies this large; the server must answer it.
  auto fixed = test::run_process(
      {"curl", "-sS", "--fail-with-body", "--data-binary", "@" + (dir / "body.bin").string(), url});
  ASSERT_TRUE(fixed.ok()) << fixed.describe() << fixed.out;
  EXPECT_EQ(fixed.out, expected);

  auto chunked =
      test::run_process({"curl", "-sS", "--fail-with-body", "-H", "Transfer-Encoding: chunked",
                         "--data-binary", "@" + (dir / "body.bin").string(), url});
  ASSERT_TRUE(chunked.ok()) << chunked.describe();
  EXPECT_EQ(chunked.out, expected);
}

TEST(HttpServer, DeclaredBodyOverRouteLimitIs413BeforeTheHandler) {
  running_server s(test_routes());
  auto res = http_send(s.port(),
                       {.method = verb::post, .target = "/small", .body = std::string(2000, 'b')});
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_NE(res.body().find("payload_too_large"), std::string::npos);
  EXPECT_FALSE(res.keep_alive());

  auto ok = http_send(s.port(), {.method = verb::post, .target = "/small", .body = "tiny"});
  EXPECT_EQ(ok.result(), http::status::ok);
}

TEST(HttpServer, ChunkedBodyOverRouteLimitIsRefused) {
  running_server s(test_routes());
  test::http_connection c(s.port());
  std::string chunk(1500, 'c');
  c.write_raw("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n" +
              chunk + "\r\n0\r\n\r\n");
  const std::string reply = c.read_until_close();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 120);
  EXPECT_NE(reply.find("body limit exceeded"), std::string::npos) << reply;
}

TEST(HttpServer, HandlerExceptionBecomes500) {
  running_server s(test_routes());
  auto res = http_send(s.port(), {.target = "/throws"});
  EXPECT_EQ(res.result(), http::status::internal_server_error);
  EXPECT_EQ(res.body().find("boom"), std::string::npos) << "internal details must not leak";
  auto silent = http_send(s.port(), {.target = "/silent"});
  EXPECT_EQ(silent.result(), http::status::internal_server_error);
}

TEST(HttpServer, StreamedResponseBody) {
  running_server s(test_routes());
  auto res = http_send(s.port(), {.target = "/stream"});
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), std::string(3000, 'x'));
}

TEST(HttpServer, GracefulShutdownFinishesInFlightRequest) {
  running_server s(test_routes());
  auto in_flight =
      std::async(std::launch::async, [&] { return http_send(s.port(), {.target = "/slow"}); });
  // Wait until the request is being handled, then stop.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s.get().session_count() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(100ms);
  const auto took = s.shutdown();
  auto res = in_flight.get();
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "{\"slow\":true}");
  EXPECT_FALSE(res.keep_alive()) << "a stopping server must close the connection";
  EXPECT_LT(took, 3s);
  EXPECT_THROW(http_send(s.port(), {.target = "/hello/x"}), boost::system::system_error)
      << "no new connections after shutdown";
}

TEST(HttpServer, GracefulShutdownClosesIdleConnectionsAtOnce) {
  running_server s(test_routes());
  test::http_connection idle(s.port());
  ASSERT_EQ(idle.send({.target = "/hello/x"}).result(), http::status::ok);
  const auto took = s.shutdown();
  EXPECT_LT(took, 1s);
  EXPECT_TRUE(idle.closed_by_peer(1s));
}

TEST(HttpServer, ShutdownGraceIsBounded) {
  server_options o;
  o.shutdown_grace = 200ms;
  router r;
  r.add(verb::get, "/forever", [](exchange& ex) -> net::awaitable<void> {
    net::steady_timer t(co_await net::this_coro::executor, 60s);
    co_await t.async_wait(net::use_awaitable);
    co_await ex.respond_json(http::status::ok, "{}");
  });
  running_server s(std::move(r), o);
  test::http_connection c(s.port());
  c.write_raw("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s.get().session_count() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  const auto took = s.shutdown();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(s.get().session_count(), 0u);
}

TEST(HttpServer, AccessRecordsFeedMetrics) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("test_http_requests_total")
                     .Help("requests")
                     .Register(*registry);
  server_options o;
  o.on_request = [&family](const access_record& r) {
    family.Add({{"method", std::string(r.method)}, {"code", std::to_string(r.status)}}).Increment();
  };
  router r = test_routes();
  r.add(verb::get, "/metrics", [registry](exchange& ex) -> net::awaitable<void> {
    string_response res{http::status::ok, 11};
    res.set(http::field::content_type, metrics_content_type);
    res.body() = render_metrics(*registry);
    co_await ex.respond(std::move(res));
  });
  running_server s(std::move(r), o);
  http_send(s.port(), {.target = "/hello/a"});
  http_send(s.port(), {.target = "/nope"});
  auto res = http_send(s.port(), {.target = "/metrics"});
  EXPECT_NE(res.body().find("test_http_requests_total{code=\"200\",method=\"GET\"} 1"),
            std::string::npos)
      << res.body();
  EXPECT_NE(res.body().find("test_http_requests_total{code=\"404\",method=\"GET\"} 1"),
            std::string::npos);

  test::temp_dir dir;
  test::write_file(dir / "metrics.txt", res.body());
  auto check =
      test::run_process({"sh", "-c", "promtool check metrics < " + (dir / "metrics.txt").string()});
  EXPECT_TRUE(check.ok()) << check.describe() << check.out;
}

}  // namespace
}  // namespace pgship::http_server

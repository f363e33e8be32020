// net/tus_stream against the real receiver: bytes pushed from memory go up in chunks, one in
// flight while the next fills, and commit with the whole stream's sha256; a connection cut
// mid-chunk is resumed from what the receiver holds; memory stays at about two chunks.

#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <pgship/common/sha256.hpp>

#include "fault_proxy.hpp"
#include "net/http_client.hpp"
#include "net/tus_stream.hpp"
#include "receiver_fixture.hpp"
#include "temp_dir.hpp"

namespace pgship::test {
namespace {

namespace net = boost::asio;
constexpr std::size_t chunk = 1024 * 1024;
constexpr std::size_t piece = 64 * 1024;

std::string random_bytes(std::size_t n) {
  std::mt19937_64 rng(42);
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

struct pushed {
  agent::stage_error error;
  std::uint64_t offset = 0;
  int retries = 0;
  std::size_t peak = 0;
};

net::awaitable<void> push_all(agent::http_client& client, std::string name, const std::string& data,
                              pushed& out) {
  agent::upload_watch watch;
  watch.stopping = [] { return false; };
  watch.sent = [](std::size_t) {};
  agent::tus_stream_request req;
  req.name = std::move(name);
  req.token = "tus-stream-token";
  req.chunk_size = chunk;
  req.max_retries = 5;
  req.retry_delay = std::chrono::milliseconds(100);
  agent::tus_stream stream(co_await net::this_coro::executor, client, req, watch);
  out.error = co_await stream.create();
  if (out.error) co_return;
  for (std::size_t at = 0; at < data.size() && !out.error; at += piece) {
    const auto n = std::min(piece, data.size() - at);
    stream.sink().write(std::span<const char>(data.data() + at, n));
    out.error = co_await stream.pace();
  }
  if (!out.error) {
    sha256 h;
    h.update(data);
    out.error = co_await stream.finish(to_hex(h.finish()));
  }
  if (out.error) co_await stream.abandon();
  out.offset = stream.offset();
  out.retries = stream.retries();
  out.peak = stream.peak_held();
}

class TusStream : public receiver_fixture {
 protected:
  TusStream() : receiver_fixture("tus-stream-token") {}

  pushed push(unsigned short port, const std::string& name, const std::string& data) {
    net::io_context io;
    auto ep = agent::receiver_endpoint::parse("http://127.0.0.1:" + std::to_string(port));
    agent::http_client client(io.get_executor(), *ep, {}, std::chrono::seconds(30));
    pushed out;
    std::exception_ptr failure;
    net::co_spawn(io, push_all(client, name, data, out),
                  [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return out;
  }

  std::string stored(const std::string& name) {
    return read_all(receiver_->storage_dir() / "default" / "pgdata" / name);
  }
  static std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

TEST_F(TusStream, AManyChunkStreamCommitsWithItsSha256AndHoldsAboutTwoChunks) {
  start();
  const auto data = random_bytes(5 * chunk + 123457);
  const std::string name = "pgdata-20260301-120000.base.tar";
  const auto r = push(receiver_->port(), name, data);
  ASSERT_FALSE(r.error) << r.error.message;
  EXPECT_EQ(r.offset, data.size());
  EXPECT_EQ(r.retries, 0);
  EXPECT_EQ(stored(name), data) << "the receiver committed every byte, in order";
  // One chunk filling, one in flight, plus the piece that overfilled it.
  EXPECT_LE(r.peak, 2 * chunk + piece);
  EXPECT_GE(r.peak, chunk);
}

TEST_F(TusStream, AConnectionCutMidChunkResumesFromWhatTheReceiverHolds) {
  start();
  fault_proxy proxy(receiver_->port());
  // The creation's request plus a chunk and a half: the cut lands inside the second PATCH.
  proxy.cut_after(chunk + chunk / 2, 1);
  const auto data = random_bytes(4 * chunk + 777);
  const std::string name = "pgdata-20260301-120001.base.tar.zst";
  const auto r = push(proxy.port(), name, data);
  ASSERT_FALSE(r.error) << r.error.message;
  EXPECT_EQ(proxy.connections_cut(), 1);
  EXPECT_GE(r.retries, 1);
  EXPECT_EQ(stored(name), data);
}

TEST_F(TusStream, ALastingFailureFailsTheStreamAndCommitsNothing) {
  start();
  const auto data = random_bytes(3 * chunk);
  const std::string name = "pgdata-20260301-120002.base.tar";
  fault_proxy proxy(receiver_->port());
  proxy.cut_after(chunk + chunk / 2, 1);
  // The receiver goes away for good after the cut: the retries run out and the stream fails.
  std::thread stopper([&] {
    while (proxy.connections_cut() == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    receiver_->stop();
  });
  const auto r = push(proxy.port(), name, data);
  stopper.join();
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error.message.find("retries"), std::string::npos) << r.error.message;
  EXPECT_FALSE(std::filesystem::exists(receiver_->storage_dir() / "default" / "pgdata" / name));
}

net::awaitable<void> get_whoami(agent::http_client& client, agent::http_outcome& out) {
  agent::http_request r{boost::beast::http::verb::get, "/api/backup/whoami", 11};
  r.set(boost::beast::http::field::authorization, "Bearer tus-stream-token");
  out = co_await client.send(std::move(r));
}

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

TEST_F(TusStream, OneConnectionCarriesOneRequestAtATime) {
  // Two callers on one client would read each other's answers (a WAL session once read a unit
  // PUT's 201 as the archive's state). The second is refused; the first is answered.
  start();
  net::io_context io;
  auto ep =
      agent::receiver_endpoint::parse("http://127.0.0.1:" + std::to_string(receiver_->port()));
  agent::http_client client(io.get_executor(), *ep, {}, std::chrono::seconds(30));
  agent::http_outcome first, second, third;
  net::co_spawn(io, get_whoami(client, first), rethrow);
  net::co_spawn(io, get_whoami(client, second), rethrow);
  io.run();
  ASSERT_TRUE(first.ok()) << first.message;
  EXPECT_EQ(first.status(), 200u);
  EXPECT_EQ(second.failure, errc::internal);
  EXPECT_NE(second.message.find("busy"), std::string::npos) << second.message;
  // Once the first is answered, the connection takes the next.
  io.restart();
  net::co_spawn(io, get_whoami(client, third), rethrow);
  io.run();
  ASSERT_TRUE(third.ok()) << third.message;
  EXPECT_EQ(third.status(), 200u);
}

}  // namespace
}  // namespace pgship::test

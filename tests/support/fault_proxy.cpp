#include "fault_proxy.hpp"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace pgship::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t buffer_size = 64 * 1024;

// One relayed connection. Only the io thread touches it, so it needs no locking.
struct link {
  link(tcp::socket c, net::io_context& io) : client(std::move(c)), upstream(io) {}

  tcp::socket client;
  tcp::socket upstream;
  std::optional<std::uint64_t> cut_at;  // client->upstream bytes after which to cut
  std::uint64_t forwarded = 0;
};

void close_both(link& l) {
  error_code ignored;
  l.client.shutdown(tcp::socket::shutdown_both, ignored);
  l.upstream.shutdown(tcp::socket::shutdown_both, ignored);
  l.client.close(ignored);
  l.upstream.close(ignored);
}

// Coroutine failures here would be bugs in the proxy, not in the code under test; say so loudly
// rather than let a test fail later for an unexplained reason.
void report(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "fault_proxy: %s failed: %s\n", what, ex.what());
  } catch (...) {
    std::fprintf(stderr, "fault_proxy: %s failed\n", what);
  }
}

}  // namespace

struct fault_proxy::state {
  explicit state(unsigned short upstream) : acceptor(io), upstream_port(upstream) {}

  // Decided at accept time so that "the next N connections" counts accepts, not cuts.
  std::optional<std::uint64_t> take_plan() {
    const std::lock_guard lock(mu);
    if (cuts_left <= 0) return std::nullopt;
    --cuts_left;
    return cut_bytes;
  }

  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(tcp::socket client, std::optional<std::uint64_t> cut_at);
  net::awaitable<void> pump(std::shared_ptr<link> l, bool to_upstream);

  // Declared first so it outlives the sockets and any coroutine frames it destroys.
  net::io_context io;
  tcp::acceptor acceptor;
  unsigned short upstream_port;
  unsigned short port = 0;

  std::mutex mu;
  std::uint64_t cut_bytes = 0;  // guarded by mu
  int cuts_left = 0;            // guarded by mu

  // The connections relayed now, for cut_open; only the io thread touches it.
  std::vector<std::weak_ptr<link>> open_links;

  std::atomic<std::uint64_t> bytes_to_upstream{0};
  std::atomic<std::uint64_t> to_client_rate{0};  // bytes per second; 0: unlimited
  std::atomic<int> accepted{0};
  std::atomic<int> cut{0};

  std::thread thread;
};

net::awaitable<void> fault_proxy::state::accept_loop() {
  for (;;) {
    auto [ec, client] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning the only thread.
      net::steady_timer pause(io, std::chrono::milliseconds(50));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    ++accepted;
    const auto plan = take_plan();
    net::co_spawn(io, serve(std::move(client), plan),
                  [](std::exception_ptr e) { report("connection", e); });
  }
}

net::awaitable<void> fault_proxy::state::serve(tcp::socket client,
                                               std::optional<std::uint64_t> cut_at) {
  auto l = std::make_shared<link>(std::move(client), io);
  l->cut_at = cut_at;
  std::erase_if(open_links, [](const std::weak_ptr<link>& w) { return w.expired(); });
  open_links.push_back(l);
  const tcp::endpoint target(net::ip::address_v4::loopback(), upstream_port);
  auto [ec] = co_await l->upstream.async_connect(target, net::as_tuple(net::use_awaitable));
  if (ec) {
    close_both(*l);
    co_return;
  }
  error_code ignored;
  // Tests send small messages and wait for answers; Nagle would only add latency.
  l->client.set_option(tcp::no_delay(true), ignored);
  l->upstream.set_option(tcp::no_delay(true), ignored);
  net::co_spawn(io, pump(l, false), [](std::exception_ptr e) { report("relay", e); });
  co_await pump(std::move(l), true);
}

net::awaitable<void> fault_proxy::state::pump(std::shared_ptr<link> l, bool to_upstream) {
  tcp::socket& from = to_upstream ? l->client : l->upstream;
  tcp::socket& to = to_upstream ? l->upstream : l->client;
  std::vector<char> buffer(buffer_size);
  for (;;) {
    // Checked before reading too, so cut_after(0, n) cuts without waiting for the client.
    if (to_upstream && l->cut_at && l->forwarded >= *l->cut_at) {
      ++cut;
      close_both(*l);
      co_return;
    }
    // Throttled: a tenth of a second's worth at a time, then the pause that share takes.
    const std::uint64_t rate = to_upstream ? 0 : to_client_rate.load();
    const std::size_t want =
        rate > 0 ? static_cast<std::size_t>(std::clamp<std::uint64_t>(rate / 10, 1, buffer_size))
                 : buffer_size;
    auto [read_ec, n] = co_await from.async_read_some(net::buffer(buffer.data(), want),
                                                      net::as_tuple(net::use_awaitable));
    if (read_ec == net::error::eof) {
      // Pass the half-close on; the other direction keeps going until its sender finishes.
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (read_ec) {
      close_both(*l);
      co_return;
    }
    if (to_upstream && l->cut_at) n = std::min<std::uint64_t>(n, *l->cut_at - l->forwarded);
    auto [write_ec, written] = co_await net::async_write(to, net::buffer(buffer.data(), n),
                                                         net::as_tuple(net::use_awaitable));
    if (to_upstream) {
      l->forwarded += written;
      bytes_to_upstream += written;
    }
    if (write_ec) {
      close_both(*l);
      co_return;
    }
    if (rate > 0) {
      net::steady_timer pause(io, std::chrono::microseconds(written * 1000000 / rate));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
    }
  }
}

fault_proxy::fault_proxy(unsigned short upstream_port)
    : state_(std::make_unique<state>(upstream_port)) {
  auto& acceptor = state_->acceptor;
  const tcp::endpoint local(net::ip::address_v4::loopback(), 0);
  acceptor.open(local.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(local);
  acceptor.listen(net::socket_base::max_listen_connections);
  state_->port = acceptor.local_endpoint().port();
  net::co_spawn(state_->io, state_->accept_loop(),
                [](std::exception_ptr e) { report("accept loop", e); });
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

fault_proxy::~fault_proxy() {
  // Stopping rather than closing sockets from this thread avoids racing the io thread; the
  // io_context's destructor then destroys the suspended coroutines, closing their sockets.
  state_->io.stop();
  state_->thread.join();
}

unsigned short fault_proxy::port() const {
  return state_->port;
}

void fault_proxy::cut_after(std::uint64_t bytes, int connections) {
  const std::lock_guard lock(state_->mu);
  state_->cut_bytes = bytes;
  state_->cuts_left = connections;
}

int fault_proxy::cut_open() {
  std::promise<int> done;
  auto count = done.get_future();
  net::post(state_->io, [s = state_.get(), &done] {
    int n = 0;
    for (const auto& weak : s->open_links) {
      const auto l = weak.lock();
      if (!l || !l->client.is_open()) continue;
      ++n;
      ++s->cut;
      close_both(*l);
    }
    s->open_links.clear();
    done.set_value(n);
  });
  return count.get();
}

void fault_proxy::throttle_to_client(std::uint64_t bytes_per_second) {
  state_->to_client_rate = bytes_per_second;
}

std::uint64_t fault_proxy::bytes_to_upstream() const {
  return state_->bytes_to_upstream;
}

int fault_proxy::connections_accepted() const {
  return state_->accepted;
}

int fault_proxy::connections_cut() const {
  return state_->cut;
}

}  // namespace pgship::test

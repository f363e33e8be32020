#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/http/server.hpp>
#include <pgship/common/log.hpp>

#include "session.hpp"

namespace pgship::http_server {
namespace {

bool is_loopback(const net::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
}

// `tls` is held until the session ends: its stream refers to the context.
template <class Stream>
void spawn_session(const std::shared_ptr<server::state>& state, Stream stream, std::string peer,
                   bool loopback, std::shared_ptr<net::ssl::context> tls = nullptr) {
  auto executor = stream.get_executor();
  auto s = std::make_shared<session<Stream>>(std::move(stream), state, peer, loopback);
  const auto it = state->add(s);
  auto slot = s->cancellation_slot();
  net::co_spawn(executor, s->run(),
                net::bind_cancellation_slot(slot, [s, state, it, peer, tls](std::exception_ptr e) {
                  if (e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const boost::system::system_error& ex) {
                      // A hard stop cancels the handler mid-await: expected, not an error.
                      if (ex.code() != net::error::operation_aborted) {
                        spdlog::error("http session ended with an exception: {}", ex.what());
                      }
                    } catch (const std::exception& ex) {
                      spdlog::error("http session ended with an exception: {}", ex.what());
                    }
                  }
                  state->remove(it);
                  state->leave(peer);
                }));
}

// Past MAX_CONNECTIONS_PER_IP: a plain-HTTP client is told why, then the socket closes.
void refuse_connection(tcp::socket socket, bool plain) {
  if (plain) {
    static const std::string answer = [] {
      auto res = make_error_response(http::status::too_many_requests,
                                     wire::api_error::too_many_connections,
                                     "too many open connections from you");
      res.set(http::field::retry_after, "1");
      res.keep_alive(false);
      res.prepare_payload();
      std::ostringstream out;
      out << res;
      return out.str();
    }();
    error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(answer), ignored);  // one try: never wait on this client
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

net::awaitable<void> accept_loop(std::shared_ptr<server::state> state) {
  while (!state->stopping) {
    auto [ec, socket] = co_await state->acceptor.async_accept(
        net::make_strand(state->strand.get_inner_executor()), net::as_tuple(net::use_awaitable));
    if (state->stopping || ec == net::error::operation_aborted) break;
    if (ec) {
      // Out of file descriptors and similar: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(state->strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    if (peer_ec) continue;  // already gone
    socket.set_option(tcp::no_delay(true), peer_ec);
    std::string peer = remote.address().to_string();
    const bool loopback = is_loopback(remote.address());
    auto tls = state->current_tls();
    if (!state->admit(peer)) {
      // Nothing a callback throws may end the accept loop.
      try {
        if (state->options.on_connection_refused) state->options.on_connection_refused(peer);
      } catch (const std::exception& e) {
        spdlog::error("connection refusal callback failed: {}", e.what());
      }
      refuse_connection(std::move(socket), tls == nullptr);
      continue;
    }
    if (tls) {
      auto& context = *tls;
      spawn_session(
          state,
          beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), context),
          std::move(peer), loopback, std::move(tls));
    } else {
      spawn_session(state, beast::tcp_stream(std::move(socket)), std::move(peer), loopback);
    }
  }
}

}  // namespace

server::server(net::any_io_executor executor, router routes, server_options options)
    : state_(std::make_shared<state>(std::move(executor), std::move(routes), std::move(options))) {}

server::~server() {
  state_->stopping = true;
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->stop_all(true);
}

tcp::endpoint server::listen(const tcp::endpoint& endpoint) {
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor.local_endpoint();
}

void server::start(std::function<void(std::exception_ptr)> on_failure) {
  net::co_spawn(state_->strand, accept_loop(state_), std::move(on_failure));
}

net::awaitable<void> server::shutdown() {
  auto st = state_;
  co_await net::dispatch(st->strand, net::use_awaitable);
  st->stopping = true;
  error_code ignored;
  st->acceptor.close(ignored);
  st->stop_all(false);

  net::steady_timer timer(st->strand);
  const auto wait_until =
      [&](std::chrono::steady_clock::time_point deadline) -> net::awaitable<void> {
    while (st->session_count > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  };
  co_await wait_until(std::chrono::steady_clock::now() + st->options.shutdown_grace);
  if (st->session_count > 0) {
    spdlog::warn("closing {} connection(s) still busy after the {} ms shutdown grace",
                 st->session_count.load(), st->options.shutdown_grace.count());
    st->stop_all(true);
    co_await wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  }
}

void server::set_tls(std::shared_ptr<net::ssl::context> tls) {
  std::lock_guard lock(state_->mutex);
  state_->tls = std::move(tls);
}

std::size_t server::session_count() const {
  return state_->session_count;
}

}  // namespace pgship::http_server

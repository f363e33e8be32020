#include "commands/daemon_client.hpp"
#include <chrono>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/verb.hpp>

namespace pgship::agent {

namespace net = boost::asio;

receiver_endpoint daemon_endpoint(const settings& cfg) {
  receiver_endpoint daemon;
  daemon.host = cfg.listen_addr == "0.0.0.0" ? "127.0.0.1"
                : cfg.listen_addr == "::"    ? "::1"
                                             : cfg.listen_addr;
  daemon.port = std::to_string(cfg.healthcheck_port);
  return daemon;
}

net::awaitable<http_outcome> get_from_daemon(const settings& cfg, std::string target) {
  const auto ex = co_await net::this_coro::executor;
  http_client client(ex, daemon_endpoint(cfg), {}, std::chrono::seconds(5));
  http_request r{boost::beast::http::verb::get, target, 11};
  if (!cfg.control_token.empty())
    r.set(boost::beast::http::field::authorization, "Bearer " + cfg.control_token);
  co_return co_await client.send(std::move(r));
}

}  // namespace pgship::agent

#pragma once
// Private: what the listener and its sessions share.

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/strand.hpp>

#include <pgship/common/http/server.hpp>

namespace pgship::http_server {

/// A live connection the server can ask to stop.
class session_base {
 public:
  virtual ~session_base() = default;
  /// Thread-safe. Soft: close if idle, else finish the current request and close.
  /// Hard: close now.
  virtual void stop(bool hard) = 0;
};

struct server::state {
  state(net::any_io_executor ex, router r, server_options o)
      : strand(net::make_strand(ex)),
        acceptor(strand),
        routes(std::move(r)),
        options(std::move(o)),
        tls(options.tls) {}

  net::strand<net::any_io_executor> strand;
  tcp::acceptor acceptor;
  const router routes;
  const server_options options;
  std::atomic<bool> stopping{false};

  std::mutex mutex;
  std::list<std::weak_ptr<session_base>> sessions;
  std::atomic<std::size_t> session_count{0};
  std::shared_ptr<net::ssl::context> tls;       // under mutex: replaced by set_tls()
  std::map<std::string, std::size_t> per_peer;  // open connections by client address

  std::shared_ptr<net::ssl::context> current_tls() {
    std::lock_guard lock(mutex);
    return tls;
  }
  /// Counts a connection from `peer`; false (and not counted) when it would be one too many.
  bool admit(const std::string& peer) {
    std::lock_guard lock(mutex);
    auto& n = per_peer[peer];
    if (options.max_connections_per_ip > 0 && n >= options.max_connections_per_ip) {
      if (n == 0) per_peer.erase(peer);
      return false;
    }
    ++n;
    return true;
  }
  void leave(const std::string& peer) {
    std::lock_guard lock(mutex);
    const auto it = per_peer.find(peer);
    if (it != per_peer.end() && --it->second == 0) per_peer.erase(it);
  }

  std::list<std::weak_ptr<session_base>>::iterator add(std::weak_ptr<session_base> s) {
    std::lock_guard lock(mutex);
    ++session_count;
    return sessions.insert(sessions.end(), std::move(s));
  }
  void remove(std::list<std::weak_ptr<session_base>>::iterator it) {
    std::lock_guard lock(mutex);
    sessions.erase(it);
    --session_count;
  }
  void stop_all(bool hard) {
    std::lock_guard lock(mutex);
    for (auto& weak : sessions) {
      if (auto s = weak.lock()) s->stop(hard);
    }
  }
};

}  // namespace pgship::http_server

#pragma once
// Private: what the listener and its sessions share.

#include <atomic>
#include <list>
#include <mutex>

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
        options(std::move(o)) {}

  net::strand<net::any_io_executor> strand;
  tcp::acceptor acceptor;
  const router routes;
  const server_options options;
  std::atomic<bool> stopping{false};

  std::mutex mutex;
  std::list<std::weak_ptr<session_base>> sessions;
  std::atomic<std::size_t> session_count{0};

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

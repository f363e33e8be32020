#pragma once
// The receiver's own events (scrub.finding, storage.low and storage.ok, wal.gap) to
// WEBHOOK_URL. publish() may be called from any thread (the scrub's, the storage pool's, an
// I/O thread): the sender runs on a strand of its own. No spool: a receiver on S3 keeps no
// local state, and a long-running server retries for a day.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <pgship/common/events/event.hpp>
#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::events {
class webhook_sender;
}

namespace pgship::receiver {

class event_out {
 public:
  event_out();
  ~event_out();
  event_out(const event_out&) = delete;
  event_out& operator=(const event_out&) = delete;

  /// Delivers from now on (WEBHOOK_URL set); before, and without, publish() does nothing.
  void start(boost::asio::any_io_executor ex, const events::webhook_settings& settings,
             std::function<void(std::string_view)> count);
  /// Thread-safe.
  void publish(events::event e);
  /// The storage's free space is low (`why`) or fine again: one event per change (and, for
  /// Alertmanager, storage.ok at the first look when fine).
  void storage_state(bool low, const std::string& why);
  /// Waits (bounded) for what is queued, then stops; at shutdown.
  boost::asio::awaitable<void> finish(std::chrono::milliseconds limit);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pgship::receiver

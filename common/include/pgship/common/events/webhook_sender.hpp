#pragma once
// Delivers events to WEBHOOK_URL in the order they happened: each is written to the spool
// first (when the program has one), POSTed, retried with doubling backoff and jitter while the
// service is down or answers 5xx/408/429, and dropped only when refused for good (another 4xx)
// or a day old. Nothing here waits on a run: publish() returns at once, and a one-shot
// command's drain() waits a bounded time, after which the undelivered events stay in the spool
// and the next run sends them first. A consumer may see an event twice (a delivery cut at its
// end is sent again): the event's id tells.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <pgship/common/events/event.hpp>
#include <pgship/common/events/webhook_settings.hpp>

namespace pgship::events {

struct retry_plan {
  std::chrono::milliseconds first{1000};
  std::chrono::milliseconds longest{std::chrono::minutes(5)};
  std::chrono::hours give_up_after{24};
};

class webhook_sender {
 public:
  /// `count` sees each outcome: delivered, retried (an attempt failed; it is tried again),
  /// dropped (refused for good, or too old), kept (left in the spool at a command's exit).
  using counter = std::function<void(std::string_view result)>;

  webhook_sender(boost::asio::any_io_executor ex, webhook_settings settings,
                 std::optional<std::filesystem::path> spool_dir, counter count,
                 retry_plan plan = {});
  ~webhook_sender();
  webhook_sender(const webhook_sender&) = delete;
  webhook_sender& operator=(const webhook_sender&) = delete;

  /// Queues `e` when WEBHOOK_EVENTS wants it (spooled first); returns at once.
  void publish(event e);

  /// Waits until every queued event is delivered or `limit` has passed; returns how many are
  /// left (kept in the spool).
  boost::asio::awaitable<std::size_t> drain(std::chrono::milliseconds limit);

  /// Stops delivering; what is queued stays in the spool.
  void stop();

  std::size_t pending() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace pgship::events

#pragma once
// Ships sealed units to the receiver in WAL order on one connection, one at a time, and knows
// the durable position: the end of the last unit the receiver acknowledged (2xx after its
// fsync or its store's PUT). Units are acknowledged in order, so everything before that
// position is durable too: it is what the replication client reports as flushed, and so the
// only position the slot may release. A failed PUT is retried with backoff for as long as it
// takes (the slot keeps the WAL meanwhile); a 409 (other bytes under the same name, or another
// segment size) stops the queue with an error, since retrying cannot help.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "net/wal_api.hpp"
#include "stage_error.hpp"
#include "wal/sealed_unit.hpp"

namespace pgship::agent::wal {

struct ship_position {
  timeline_id timeline = 0;
  lsn end = 0;  // 0: nothing acknowledged yet
};

class ship_queue {
 public:
  using clock = std::chrono::steady_clock;

  /// Sends one unit: wal_api::put_unit in the agent, a scripted receiver in unit tests.
  using sender = std::function<boost::asio::awaitable<wal_api::put_outcome>(const sealed_unit&)>;

  /// `budget`: the most stored bytes queued (not yet acknowledged) before over_budget() says
  /// the reader must stop draining the stream.
  ship_queue(boost::asio::any_io_executor ex, sender send, std::uint64_t budget);
  ~ship_queue();
  ship_queue(const ship_queue&) = delete;
  ship_queue& operator=(const ship_queue&) = delete;

  /// Queues a unit behind the others. Never waits.
  void push(sealed_unit unit);
  bool over_budget() const;
  std::uint64_t queued_bytes() const;
  std::size_t queued_units() const;
  /// The end of the last acknowledged unit.
  ship_position durable() const;
  /// Of the units not yet acknowledged, when the oldest first byte was received; nullopt when
  /// all are (the lag in seconds is the age of this).
  std::optional<clock::time_point> oldest_pending() const;
  /// Units acknowledged that end a segment, since start.
  std::uint64_t segments_shipped() const;
  /// Why the queue stopped (409), or the last failed attempt's message while it retries.
  std::string last_error() const;
  /// True once a PUT was refused for good (409): nothing more is shipped.
  bool failed() const;
  /// The refusal that stopped the queue (its code is the exit code: wal_conflict for a 409);
  /// no error while it has not failed.
  stage_error failure() const;
  /// Called (on the executor) whenever durable() advances or the budget frees up, and once
  /// when the queue fails.
  void on_progress(std::function<void()> callback);
  /// Called before each wait after a failed attempt, with its error and the wait (for the log).
  void on_retry(std::function<void(const stage_error&, std::chrono::milliseconds)> callback);
  /// The backoff: `first` doubling up to `cap`, each scaled by a jitter in [0.5, 1]. 0.25 s and
  /// 5 s unless set (tests shorten it).
  void set_backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap);

  /// The upload loop: ships queued units until cancelled (per-operation cancellation:
  /// co_spawn it with a bound cancellation slot and emit terminal cancellation) or failed().
  /// Retries 0.25 s doubling to 5 s, with jitter, honouring Retry-After. Run one at a time; the
  /// queue must outlive it (destroy the queue only after run() has completed).
  boost::asio::awaitable<void> run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pgship::agent::wal

// The ship queue against a scripted receiver (the fault a real one cannot give on demand: fail
// N times, 409, Retry-After, an answer that never comes): units go in WAL order, one at a
// time; durable() advances only as acknowledgements arrive; failures are retried with backoff
// or the Retry-After asked for; a 409 stops it; the budget and the progress callback follow
// the queue; cancelling run()'s operation ends it at once.

#include "wal/ship_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace pgship::agent::wal {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using put_outcome = wal_api::put_outcome;

constexpr std::uint64_t segment_size = 1ull << 20;

sealed_unit unit_at(lsn start, lsn end, std::size_t stored_size,
                    ship_queue::clock::time_point received = ship_queue::clock::now()) {
  sealed_unit u;
  const auto segment = pgship::wal::segment_of(1, start, segment_size);
  u.name.segment = pgship::wal::segment_name(segment, segment_size);
  u.name.start = static_cast<std::uint32_t>(start - segment.start(segment_size));
  u.name.end = static_cast<std::uint32_t>(end - segment.start(segment_size));
  u.name.format = {io::compression::zstd, io::encryption::age};
  u.timeline = 1;
  u.start = start;
  u.end = end;
  u.stored.assign(stored_size, 's');
  u.segment_size = segment_size;
  u.first_received = received;
  return u;
}

put_outcome retryable(errc code, std::string message,
                      std::optional<std::chrono::seconds> after = std::nullopt) {
  put_outcome o;
  o.error = fail(code, std::move(message));
  o.retry_after = after;
  return o;
}

put_outcome refused(errc code, std::string message) {
  put_outcome o;
  o.error = fail(code, std::move(message));
  o.permanent = true;
  return o;
}

// The receiver's answers, one per attempt (ok once they run out), and what it saw.
struct scripted_receiver {
  std::deque<put_outcome> answers;
  std::chrono::milliseconds delay{0};  // how long each answer takes
  std::vector<std::string> calls;
  std::vector<ship_position> durable_at_call;
  ship_queue* queue = nullptr;
};

net::awaitable<put_outcome> scripted_put(scripted_receiver* r, const sealed_unit& unit) {
  r->calls.push_back(unit.name.file_name());
  if (r->queue != nullptr) r->durable_at_call.push_back(r->queue->durable());
  if (r->delay > 0ms) {
    net::steady_timer t(co_await net::this_coro::executor);
    t.expires_after(r->delay);
    co_await t.async_wait(net::as_tuple(net::use_awaitable));
  }
  if (r->answers.empty()) co_return put_outcome{};
  auto answer = r->answers.front();
  r->answers.pop_front();
  co_return answer;
}

ship_queue::sender sender_for(scripted_receiver& r) {
  return [&r](const sealed_unit& unit) { return scripted_put(&r, unit); };
}

// A queue and its run() on one io_context, stopped like the daemon stops it.
struct harness {
  net::io_context ctx;
  scripted_receiver receiver;
  ship_queue queue;
  net::cancellation_signal stop;
  bool ended = false;
  std::exception_ptr thrown;

  explicit harness(std::uint64_t budget = 1ull << 30)
      : queue(ctx.get_executor(), sender_for(receiver), budget) {
    receiver.queue = &queue;
  }

  void start() {
    net::co_spawn(ctx, queue.run(),
                  net::bind_cancellation_slot(stop.slot(), [this](std::exception_ptr e) {
                    ended = true;
                    thrown = e;
                  }));
  }

  // Runs handlers until `done` says so; false after a generous deadline.
  template <class Pred>
  bool run_until(Pred done, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ctx.run_one_for(20ms);
    }
    return true;
  }

  void cancel() {
    net::post(ctx, [this] { stop.emit(net::cancellation_type::terminal); });
    EXPECT_TRUE(run_until([this] { return ended; }));
    EXPECT_FALSE(thrown);
  }
};

TEST(ship_queue_test, ShipsInOrderAndDurableAdvancesOnlyAsAcksArrive) {
  harness h;
  h.receiver.delay = 5ms;
  std::vector<ship_position> progress;
  h.queue.on_progress([&] { progress.push_back(h.queue.durable()); });
  const auto u1 = unit_at(segment_size * 3 + 0x1000, segment_size * 4, 100);
  const auto u2 = unit_at(segment_size * 4, segment_size * 4 + 0x2000, 200);
  const auto u3 = unit_at(segment_size * 4 + 0x2000, segment_size * 5, 300);
  h.queue.push(u1);
  h.queue.push(u2);
  h.queue.push(u3);
  EXPECT_EQ(h.queue.durable().end, 0u);
  EXPECT_EQ(h.queue.queued_units(), 3u);
  EXPECT_EQ(h.queue.queued_bytes(), 600u);
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.queue.queued_units() == 0; }));
  EXPECT_EQ(h.receiver.calls, (std::vector<std::string>{u1.name.file_name(), u2.name.file_name(),
                                                        u3.name.file_name()}));
  // While each unit was on its way, durable() was the end of the one before.
  ASSERT_EQ(h.receiver.durable_at_call.size(), 3u);
  EXPECT_EQ(h.receiver.durable_at_call[0].end, 0u);
  EXPECT_EQ(h.receiver.durable_at_call[1].end, u1.end);
  EXPECT_EQ(h.receiver.durable_at_call[2].end, u2.end);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[0].end, u1.end);
  EXPECT_EQ(progress[1].end, u2.end);
  EXPECT_EQ(progress[2].end, u3.end);
  EXPECT_EQ(h.queue.durable().timeline, 1u);
  EXPECT_EQ(h.queue.durable().end, u3.end);
  EXPECT_EQ(h.queue.queued_bytes(), 0u);
  EXPECT_EQ(h.queue.segments_shipped(), 2u);  // u1 and u3 end their segments
  EXPECT_FALSE(h.queue.failed());
  EXPECT_FALSE(h.ended);  // an empty queue waits for more

  // A unit pushed to the idle loop is shipped.
  const auto u4 = unit_at(segment_size * 5, segment_size * 5 + 10, 10);
  h.queue.push(u4);
  ASSERT_TRUE(h.run_until([&] { return h.queue.durable().end == u4.end; }));
  EXPECT_EQ(h.receiver.calls.size(), 4u);
  h.cancel();
}

TEST(ship_queue_test, FailuresAreRetriedWithBackoffAndDurableWaits) {
  harness h;
  h.queue.set_backoff(8ms, 32ms);
  h.receiver.answers = {retryable(errc::receiver_unreachable, "connection refused"),
                        retryable(errc::receiver_unhealthy, "HTTP 500"),
                        retryable(errc::receiver_unhealthy, "HTTP 502"),
                        retryable(errc::receiver_unreachable, "reset")};
  std::vector<std::chrono::milliseconds> waits;
  std::vector<std::string> errors_seen;
  h.queue.on_retry([&](const stage_error& e, std::chrono::milliseconds wait) {
    waits.push_back(wait);
    errors_seen.push_back(h.queue.last_error());
    EXPECT_EQ(e.message, h.queue.last_error());
    EXPECT_EQ(h.queue.durable().end, 0u);
    EXPECT_FALSE(h.queue.failed());
  });
  int progress = 0;
  h.queue.on_progress([&] { ++progress; });
  const auto u1 = unit_at(0x1000, 0x2000, 50);
  const auto u2 = unit_at(0x2000, 0x3000, 50);
  h.queue.push(u1);
  h.queue.push(u2);
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.queue.queued_units() == 0; }));
  // Four failures of the first unit, then both: the second never overtook the first.
  std::vector<std::string> expected(5, u1.name.file_name());
  expected.push_back(u2.name.file_name());
  EXPECT_EQ(h.receiver.calls, expected);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ(h.receiver.durable_at_call[i].end, 0u) << i;
  EXPECT_EQ(errors_seen,
            (std::vector<std::string>{"connection refused", "HTTP 500", "HTTP 502", "reset"}));
  // 8 ms doubling up to 32 ms, each scaled by a jitter in [0.5, 1].
  ASSERT_EQ(waits.size(), 4u);
  const std::chrono::milliseconds bases[] = {8ms, 16ms, 32ms, 32ms};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_GE(waits[i], bases[i] / 2) << i;
    EXPECT_LE(waits[i], bases[i]) << i;
  }
  EXPECT_EQ(progress, 2);
  EXPECT_EQ(h.queue.durable().end, u2.end);
  EXPECT_TRUE(h.queue.last_error().empty());  // cleared by the success
  h.cancel();
}

TEST(ship_queue_test, AConflictStopsTheQueueForGood) {
  harness h;
  int progress = 0;
  h.queue.on_progress([&] { ++progress; });
  h.receiver.answers = {put_outcome{},
                        refused(errc::wal_conflict, "shipping WAL unit x: HTTP 409 Conflict")};
  const auto u1 = unit_at(0x1000, 0x2000, 10);
  const auto u2 = unit_at(0x2000, 0x3000, 10);
  const auto u3 = unit_at(0x3000, 0x4000, 10);
  h.queue.push(u1);
  h.queue.push(u2);
  h.queue.push(u3);
  h.start();
  // run() ends by itself: nobody cancels it.
  ASSERT_TRUE(h.run_until([&] { return h.ended; }));
  EXPECT_FALSE(h.thrown);
  EXPECT_TRUE(h.queue.failed());
  EXPECT_EQ(h.queue.failure().code, make_error_code(errc::wal_conflict));
  EXPECT_EQ(h.queue.last_error(), "shipping WAL unit x: HTTP 409 Conflict");
  EXPECT_EQ(h.receiver.calls.size(), 2u);  // u3 was never sent
  EXPECT_EQ(h.queue.durable().end, u1.end);
  EXPECT_EQ(h.queue.queued_units(), 2u);
  EXPECT_EQ(progress, 2);  // the ack of u1, then the failure
}

TEST(ship_queue_test, RetryAfterIsWaitedInsteadOfTheBackoff) {
  harness h;  // the default backoff: 0.25 s first
  h.receiver.answers = {retryable(errc::receiver_unhealthy, "HTTP 502"),
                        retryable(errc::receiver_unhealthy, "HTTP 429", 1s),
                        retryable(errc::receiver_unhealthy, "HTTP 503", 1s)};
  std::vector<std::chrono::milliseconds> waits;
  h.queue.on_retry(
      [&](const stage_error&, std::chrono::milliseconds wait) { waits.push_back(wait); });
  const auto u1 = unit_at(0x1000, 0x2000, 10);
  h.queue.push(u1);
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.queue.durable().end == u1.end; }));
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_GE(waits[0], 125ms);
  EXPECT_LE(waits[0], 250ms);
  EXPECT_EQ(waits[1], 1000ms);
  EXPECT_EQ(waits[2], 1000ms);
  EXPECT_EQ(h.receiver.calls.size(), 4u);
  h.cancel();
}

TEST(ship_queue_test, TheBudgetAndOldestPendingFollowTheQueue) {
  harness h(100);
  h.receiver.delay = 2ms;
  const auto t0 = ship_queue::clock::time_point(50s);
  EXPECT_FALSE(h.queue.over_budget());
  EXPECT_FALSE(h.queue.oldest_pending().has_value());
  const auto u1 = unit_at(0x1000, 0x2000, 60, t0);
  const auto u2 = unit_at(0x2000, 0x3000, 60, t0 + 1s);
  const auto u3 = unit_at(0x3000, 0x4000, 60, t0 + 2s);
  h.queue.push(u1);
  EXPECT_FALSE(h.queue.over_budget());
  h.queue.push(u2);
  EXPECT_TRUE(h.queue.over_budget());  // 120 >= 100
  h.queue.push(u3);
  EXPECT_EQ(*h.queue.oldest_pending(), t0);

  struct seen {
    bool over;
    std::uint64_t bytes;
    std::optional<ship_queue::clock::time_point> oldest;
  };
  std::vector<seen> progress;
  h.queue.on_progress([&] {
    progress.push_back({h.queue.over_budget(), h.queue.queued_bytes(), h.queue.oldest_pending()});
  });
  h.start();
  ASSERT_TRUE(h.run_until([&] { return progress.size() == 3; }));
  EXPECT_TRUE(progress[0].over);  // 120 left
  EXPECT_EQ(progress[0].bytes, 120u);
  EXPECT_EQ(progress[0].oldest, t0 + 1s);
  EXPECT_FALSE(progress[1].over);  // 60 left: the reader may drain again
  EXPECT_EQ(progress[1].oldest, t0 + 2s);
  EXPECT_EQ(progress[2].bytes, 0u);
  EXPECT_FALSE(progress[2].oldest.has_value());
  h.cancel();
}

TEST(ship_queue_test, CancellingEndsRunWhileAPutIsOnItsWay) {
  harness h;
  h.receiver.delay = std::chrono::hours(1);  // an answer that never comes
  const auto u1 = unit_at(0x1000, 0x2000, 10);
  h.queue.push(u1);
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.receiver.calls.size() == 1; }));
  h.cancel();
  EXPECT_EQ(h.queue.durable().end, 0u);  // not acknowledged: streamed again next time
  EXPECT_EQ(h.queue.queued_units(), 1u);
  EXPECT_FALSE(h.queue.failed());
  EXPECT_EQ(h.receiver.calls.size(), 1u);
}

TEST(ship_queue_test, CancellingEndsRunWhileIdleOrWaitingToRetry) {
  {
    harness idle;
    idle.start();
    idle.ctx.poll();
    EXPECT_FALSE(idle.ended);
    idle.cancel();
    EXPECT_TRUE(idle.receiver.calls.empty());
  }
  harness waiting;
  waiting.receiver.answers = {retryable(errc::receiver_unhealthy, "HTTP 429", 600s)};
  bool retrying = false;
  waiting.queue.on_retry([&](const stage_error&, std::chrono::milliseconds) { retrying = true; });
  waiting.queue.push(unit_at(0x1000, 0x2000, 10));
  waiting.start();
  ASSERT_TRUE(waiting.run_until([&] { return retrying; }));
  waiting.cancel();
  EXPECT_EQ(waiting.receiver.calls.size(), 1u);
  EXPECT_EQ(waiting.queue.last_error(), "HTTP 429");
}

}  // namespace
}  // namespace pgship::agent::wal

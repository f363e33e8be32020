#include "wal/ship_queue.hpp"
#include <algorithm>
#include <exception>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/retry_policy.hpp"

namespace pgship::agent::wal {

namespace net = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr auto wait_token = net::as_tuple(net::use_awaitable);

net::awaitable<bool> cancelled() {
  const auto state = co_await net::this_coro::cancellation_state;
  co_return state.cancelled() != net::cancellation_type::none;
}

}  // namespace

struct ship_queue::impl {
  net::any_io_executor ex;
  sender send;
  std::uint64_t budget = 0;
  std::deque<sealed_unit> units;  // push_back keeps references to the head valid during a PUT
  std::uint64_t queued_bytes = 0;
  ship_position durable;
  std::uint64_t segments_shipped = 0;
  std::string last_error;
  stage_error failure;
  std::function<void()> progress;
  std::function<void(const stage_error&, milliseconds)> retrying;
  milliseconds first_delay{250};
  milliseconds max_delay{5000};
  // run() waits on it while the queue is empty; push() cancels the wait.
  net::steady_timer wake;
  std::mt19937_64 rng{std::random_device{}()};

  impl(net::any_io_executor executor, sender s, std::uint64_t b)
      : ex(executor), send(std::move(s)), budget(b), wake(executor) {}

  milliseconds backoff(int retry) {
    milliseconds base = first_delay;
    for (int i = 1; i < retry && base < max_delay; ++i)
      base *= 2;
    base = std::min(base, max_delay);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    return backoff_delay(base, 1, unit(rng));
  }

  void acknowledged() {
    const auto& head = units.front();
    queued_bytes -= head.stored.size();
    if (!head.history) durable = {head.timeline, head.end};
    if (head.ends_segment()) ++segments_shipped;
    units.pop_front();
    last_error.clear();
    if (progress) progress();
  }
};

ship_queue::ship_queue(net::any_io_executor ex, sender send, std::uint64_t budget)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(send), budget)) {}

ship_queue::~ship_queue() = default;

void ship_queue::push(sealed_unit unit) {
  impl_->queued_bytes += unit.stored.size();
  impl_->units.push_back(std::move(unit));
  impl_->wake.cancel();
}

bool ship_queue::over_budget() const {
  return impl_->queued_bytes >= impl_->budget;
}

std::uint64_t ship_queue::queued_bytes() const {
  return impl_->queued_bytes;
}

std::size_t ship_queue::queued_units() const {
  return impl_->units.size();
}

ship_position ship_queue::durable() const {
  return impl_->durable;
}

std::optional<ship_queue::clock::time_point> ship_queue::oldest_pending() const {
  if (impl_->units.empty()) return std::nullopt;
  // Units are queued in WAL order, so the head's first byte is the oldest.
  return impl_->units.front().first_received;
}

std::uint64_t ship_queue::segments_shipped() const {
  return impl_->segments_shipped;
}

std::string ship_queue::last_error() const {
  return impl_->last_error;
}

bool ship_queue::failed() const {
  return impl_->failure.failed();
}

stage_error ship_queue::failure() const {
  return impl_->failure;
}

void ship_queue::on_progress(std::function<void()> callback) {
  impl_->progress = std::move(callback);
}

void ship_queue::on_retry(std::function<void(const stage_error&, milliseconds)> callback) {
  impl_->retrying = std::move(callback);
}

void ship_queue::set_backoff(milliseconds first, milliseconds cap) {
  impl_->first_delay = std::max(first, milliseconds(1));
  impl_->max_delay = std::max(cap, impl_->first_delay);
}

net::awaitable<void> ship_queue::run() {
  auto& d = *impl_;
  // Cancellation ends the loop where it is noticed, not by an exception out of an await.
  co_await net::this_coro::throw_if_cancelled(false);
  net::steady_timer pause(co_await net::this_coro::executor);
  int retry = 0;
  while (!d.failure.failed()) {
    if (co_await cancelled()) co_return;
    if (d.units.empty()) {
      d.wake.expires_at(net::steady_timer::time_point::max());
      co_await d.wake.async_wait(wait_token);
      continue;
    }
    wal_api::put_outcome outcome;
    try {
      outcome = co_await d.send(d.units.front());
    } catch (const std::exception& e) {
      outcome.error = fail(errc::internal, std::string("shipping a WAL unit: ") + e.what());
    }
    if (co_await cancelled()) co_return;
    if (!outcome.error) {
      retry = 0;
      d.acknowledged();
      continue;
    }
    d.last_error = outcome.error.message;
    if (outcome.permanent) {
      d.failure = outcome.error;
      if (d.progress) d.progress();
      co_return;
    }
    ++retry;
    const milliseconds delay = outcome.retry_after
                                   ? std::chrono::duration_cast<milliseconds>(*outcome.retry_after)
                                   : d.backoff(retry);
    if (d.retrying) d.retrying(outcome.error, delay);
    pause.expires_after(delay);
    co_await pause.async_wait(wait_token);
  }
}

}  // namespace pgship::agent::wal

#include "app/background_loops.hpp"
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "policy/retention.hpp"
#include "policy/storage_state.hpp"

namespace pgship::receiver {
namespace {

// Retention for every client the store holds backups or WAL of.
net::awaitable<void> apply_all_retention(receiver_context& ctx) {
  std::function<void()> work = [&ctx] {
    ctx.store->refresh();
    const auto now = std::chrono::system_clock::now();
    for (const auto& client : stored_clients(*ctx.store))
      apply_retention_now(ctx, client, now);
    reread_wal_index(ctx);
  };
  co_await ctx.on_storage_thread(work);
}

// A store other replicas write too: usage (quota, metrics) is read from it again this often.
constexpr auto shared_store_refresh = std::chrono::seconds(10);

}  // namespace

net::awaitable<void> refresh_shared_store(std::shared_ptr<receiver_context> ctx) {
  net::steady_timer timer(co_await net::this_coro::executor);
  std::function<void()> work = [&ctx] {
    if (const auto ec = ctx->store->refresh()) {
      spdlog::warn("cannot re-read the storage listing: {}", ec.message());
    }
  };
  while (true) {
    timer.expires_after(shared_store_refresh);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    co_await ctx->on_storage_thread(work);
    ctx->metrics.refresh(*ctx->store, ctx->incoming);
  }
}

// Removes resumable uploads nobody touched for UPLOAD_EXPIRY, and applies retention, hourly
// (and once shortly after start).
net::awaitable<void> housekeeping(std::shared_ptr<receiver_context> ctx,
                                  std::shared_ptr<tus_uploads> uploads) {
  net::steady_timer timer(co_await net::this_coro::executor);
  auto interval = std::chrono::seconds(5);
  while (true) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    expire_tus_uploads(*uploads);
    co_await apply_all_retention(*ctx);
    ctx->metrics.refresh(*ctx->store, ctx->incoming);
    interval = std::min<std::chrono::seconds>(
        std::chrono::hours(1), std::chrono::duration_cast<std::chrono::seconds>(
                                   ctx->cfg.upload_expiry / 4 + std::chrono::seconds(1)));
  }
}

net::awaitable<void> watch_storage_space(std::shared_ptr<receiver_context> ctx) {
  net::steady_timer timer(co_await net::this_coro::executor);
  auto state = check_storage(*ctx);
  while (true) {
    ctx->events.storage_state(!state.low_space.empty(), state.low_space);
    timer.expires_after(std::chrono::seconds(10));
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    state = check_storage(*ctx);
  }
}

net::awaitable<void> scrub_schedule(std::shared_ptr<scrubber> scrub,
                                    std::chrono::milliseconds interval) {
  net::steady_timer timer(co_await net::this_coro::executor);
  const auto tick = std::clamp<std::chrono::milliseconds>(interval / 4, std::chrono::seconds(1),
                                                          std::chrono::seconds(60));
  while (true) {
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (!scrub->running() && scrub->due(std::chrono::system_clock::now())) scrub->start("schedule");
  }
}

}  // namespace pgship::receiver

#include "state/event_out.hpp"
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/events/webhook_sender.hpp>

namespace pgship::receiver {

namespace net = boost::asio;

struct event_out::impl {
  std::optional<net::strand<net::any_io_executor>> strand;
  std::unique_ptr<events::webhook_sender> sender;  // touched on the strand only
  std::mutex mutex;
  std::optional<bool> storage_low;  // guarded by mutex; unknown until the first look
  bool resolve_at_start = false;
};

event_out::event_out() : impl_(std::make_unique<impl>()) {}

event_out::~event_out() = default;

void event_out::start(net::any_io_executor ex, const events::webhook_settings& settings,
                      std::function<void(std::string_view)> count) {
  if (!settings.enabled()) return;
  impl_->strand.emplace(net::make_strand(ex));
  // An Alertmanager alert fired before a restart must not outlive the condition.
  impl_->resolve_at_start = settings.format == events::webhook_format::alertmanager;
  impl_->sender = std::make_unique<events::webhook_sender>(*impl_->strand, settings, std::nullopt,
                                                           std::move(count));
}

void event_out::publish(events::event e) {
  if (!impl_->strand) return;
  net::post(*impl_->strand, [this, e = std::move(e)]() mutable {
    if (impl_->sender) impl_->sender->publish(std::move(e));
  });
}

void event_out::storage_state(bool low, const std::string& why) {
  {
    std::lock_guard lock(impl_->mutex);
    const bool first = !impl_->storage_low;
    if (!first && *impl_->storage_low == low) return;
    impl_->storage_low = low;
    if (first && !low && !impl_->resolve_at_start) return;
  }
  auto e = events::make_event(low ? "storage.low" : "storage.ok", "receiver");
  e.result = low ? "low" : "ok";
  e.message = why;
  publish(std::move(e));
}

net::awaitable<void> event_out::finish(std::chrono::milliseconds limit) {
  if (!impl_->strand) co_return;
  // The whole of it on the strand: the sender is not thread-safe, and a coroutine resumes on
  // its own executor, not on one it posted to.
  auto* sender = impl_->sender.get();
  const auto on_strand = [sender, limit]() -> net::awaitable<void> {
    co_await sender->drain(limit);
    sender->stop();
  };
  auto drained = net::co_spawn(*impl_->strand, on_strand, net::use_awaitable);
  co_await std::move(drained);
}

}  // namespace pgship::receiver

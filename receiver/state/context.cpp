#include "state/context.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgship::receiver {

receiver_context::receiver_context(settings s, std::unique_ptr<storage> backend)
    : cfg(std::move(s)),
      incoming(cfg.storage_dir),
      store(std::move(backend)),
      upload_rates(cfg.client_max_rate.value_or(0)),
      tokens_(std::make_shared<const token_store>(
          token_store::load(cfg.backup_api_token, cfg.api_tokens_file))) {
  metrics.register_clients(tokens_->clients());
  if (cfg.rate_limit) {
    ip_requests = std::make_unique<leaky_buckets>(*cfg.rate_limit, cfg.rate_burst);
    client_requests = std::make_unique<leaky_buckets>(*cfg.rate_limit, cfg.rate_burst);
  }
  if (cfg.auth_failure_limit) {
    auth_failures =
        std::make_unique<leaky_buckets>(*cfg.auth_failure_limit, cfg.auth_failure_burst);
  }
}

net::awaitable<void> receiver_context::on_storage_thread(std::function<void()> work) {
  // co_spawn, not post: the work runs on the pool and the caller resumes on its own executor.
  auto task = [&work]() -> net::awaitable<void> {
    work();
    co_return;
  };
  co_await net::co_spawn(storage_pool.get_executor(), task, net::use_awaitable);
}

std::shared_ptr<const token_store> receiver_context::tokens() const {
  std::lock_guard lock(tokens_mutex_);
  return tokens_;
}

void receiver_context::replace_tokens(token_store fresh) {
  auto next = std::make_shared<const token_store>(std::move(fresh));
  metrics.register_clients(next->clients());
  std::lock_guard lock(tokens_mutex_);
  tokens_ = std::move(next);
}

}  // namespace pgship::receiver

#include "context.hpp"
#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <pgship/common/log.hpp>

#include "open_storage.hpp"

namespace pgship::receiver {

receiver_context::receiver_context(settings s)
    : cfg(std::move(s)),
      incoming(cfg.storage_dir),
      store(open_storage(cfg)),
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

namespace {

// 429 with the seconds after which the same request would pass.
net::awaitable<void> refuse_rate(http_server::exchange& ex, receiver_context& ctx,
                                 const char* reason, std::chrono::seconds retry_after,
                                 std::string_view detail, bool first) {
  ctx.metrics.rate_limited(reason);
  // One line per burst of refusals: a flood is counted, not logged line by line.
  if (first) {
    log::write(spdlog::level::warn, "rate limited " + ex.peer_address(),
               {{"peer", ex.peer_address()},
                {"reason", reason},
                {"retry_after", std::to_string(retry_after.count())},
                {"method", std::string(ex.request().method_string())},
                {"path", std::string(ex.path())}});
  }
  auto res = http_server::make_error_response(http::status::too_many_requests,
                                              wire::api_error::rate_limited, detail);
  res.set(http::field::retry_after, std::to_string(retry_after.count()));
  co_await ex.respond(std::move(res));
}

}  // namespace

net::awaitable<std::optional<principal>> authorize(http_server::exchange& ex, receiver_context& ctx,
                                                   std::optional<scope> needed) {
  const auto peer = address_key(ex.peer_address());
  // An address that guessed tokens too often is refused whatever it sends now, a right token
  // included: a brute force learns nothing from the answers.
  if (ctx.auth_failures) {
    if (const auto v = ctx.auth_failures->blocked(peer); !v.allowed) {
      co_await refuse_rate(ex, ctx, "auth_failures", v.retry_after,
                           "too many failed logins from this address", v.first);
      co_return std::nullopt;
    }
  }
  if (ctx.ip_requests) {
    if (const auto v = ctx.ip_requests->hit(peer); !v.allowed) {
      co_await refuse_rate(ex, ctx, "rate", v.retry_after, "too many requests from this address",
                           v.first);
      co_return std::nullopt;
    }
  }
  const auto header = ex.request()[http::field::authorization];
  auto who = ctx.tokens()->authenticate(header);
  if (!who) {
    ctx.metrics.auth_failed();
    if (ctx.auth_failures) ctx.auth_failures->add_failure(peer);
    log::write(spdlog::level::warn, "auth failed from " + ex.peer_address(),
               {{"peer", ex.peer_address()},
                {"token", header.empty() ? "missing" : "unknown"},
                {"method", std::string(ex.request().method_string())},
                {"path", std::string(ex.path())}});
    auto res =
        http_server::make_error_response(http::status::unauthorized, wire::api_error::unauthorized,
                                         "a valid bearer token is required");
    res.set(http::field::www_authenticate, "Bearer realm=\"pgship\"");
    co_await ex.respond(std::move(res));
    co_return std::nullopt;
  }
  ex.set_client(who->client);
  if (needed && !who->may(*needed)) {
    ctx.metrics.auth_failed();
    log::write(spdlog::level::warn, "auth failed from " + ex.peer_address() + ": scope missing",
               {{"peer", ex.peer_address()},
                {"client", who->client},
                {"method", std::string(ex.request().method_string())},
                {"path", std::string(ex.path())}});
    co_await ex.respond_error(http::status::forbidden, wire::api_error::forbidden,
                              "this token does not allow this operation");
    co_return std::nullopt;
  }
  if (ctx.client_requests) {
    if (const auto v = ctx.client_requests->hit(who->client); !v.allowed) {
      co_await refuse_rate(ex, ctx, "rate", v.retry_after, "too many requests for this token",
                           v.first);
      co_return std::nullopt;
    }
  }
  co_return who;
}

upload_slot::upload_slot(receiver_context& ctx) : ctx_(ctx) {
  if (ctx_.active_uploads.fetch_add(1) < ctx_.cfg.max_concurrent_uploads) {
    acquired_ = true;
  } else {
    ctx_.active_uploads.fetch_sub(1);
  }
}

upload_slot::~upload_slot() {
  release();
}

void upload_slot::release() {
  if (acquired_) ctx_.active_uploads.fetch_sub(1);
  acquired_ = false;
}

net::awaitable<bool> refuse_over_limits(http_server::exchange& ex, receiver_context& ctx,
                                        const std::string& client,
                                        std::optional<std::uint64_t> declared,
                                        const std::string& hold_key, std::uint64_t on_disk) {
  const std::uint64_t size = declared.value_or(0);
  if (size > ctx.cfg.max_upload_bytes) {
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              "upload of " + std::to_string(size) +
                                  " bytes exceeds MAX_UPLOAD_BYTES (" +
                                  std::to_string(ctx.cfg.max_upload_bytes) + ")");
    co_return true;
  }
  const auto free = ctx.incoming.free_bytes();
  if (!free || *free < ctx.cfg.min_free_bytes + (size - std::min(size, on_disk))) {
    spdlog::warn("refusing upload from {}: storage free space below MIN_FREE_BYTES", client);
    co_await ex.respond_error(http::status::insufficient_storage,
                              wire::api_error::insufficient_storage,
                              "the receiver is low on disk space");
    co_return true;
  }
  if (!ctx.quota.hold(hold_key, client, size, ctx.cfg.quota_bytes)) {
    co_await ex.respond_error(http::status::insufficient_storage, wire::api_error::quota_exceeded,
                              "client " + client + " would exceed its QUOTA_BYTES");
    co_return true;
  }
  co_return false;
}

bool out_of_space_while_streaming(receiver_context& ctx, const std::string& client,
                                  const std::string& hold_key, std::uint64_t received,
                                  std::uint64_t to_write) {
  const auto free = ctx.incoming.free_bytes();
  if (!free || *free < ctx.cfg.min_free_bytes + to_write) return true;
  return !ctx.quota.hold(hold_key, client, received, ctx.cfg.quota_bytes);
}

}  // namespace pgship::receiver

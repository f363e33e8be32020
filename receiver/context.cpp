#include "context.hpp"

#include <pgship/common/log.hpp>

namespace pgship::receiver {

receiver_context::receiver_context(settings s)
    : cfg(std::move(s)),
      store(cfg.storage_dir),
      tokens(token_store::load(cfg.backup_api_token, cfg.api_tokens_file)) {}

net::awaitable<std::optional<principal>> authorize(http_server::exchange& ex, receiver_context& ctx,
                                                   scope needed) {
  const auto header = ex.request()[http::field::authorization];
  auto who = ctx.tokens.authenticate(header);
  if (!who) {
    ctx.metrics.auth_failed();
    log::write(spdlog::level::warn, "auth failed from " + ex.peer_address(),
               {{"peer", ex.peer_address()},
                {"token", header.empty() ? "missing" : "unknown"},
                {"method", std::string(ex.request().method_string())},
                {"path", std::string(ex.path())}});
    auto res = http_server::make_error_response(http::status::unauthorized, "unauthorized",
                                                "a valid bearer token is required");
    res.set(http::field::www_authenticate, "Bearer realm=\"pgship\"");
    co_await ex.respond(std::move(res));
    co_return std::nullopt;
  }
  ex.set_client(who->client);
  if (!who->may(needed)) {
    ctx.metrics.auth_failed();
    log::write(spdlog::level::warn, "auth failed from " + ex.peer_address() + ": scope missing",
               {{"peer", ex.peer_address()},
                {"client", who->client},
                {"method", std::string(ex.request().method_string())},
                {"path", std::string(ex.path())}});
    co_await ex.respond_error(http::status::forbidden, "forbidden",
                              "this token does not allow this operation");
    co_return std::nullopt;
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
                                        const std::string& hold_key) {
  const std::uint64_t size = declared.value_or(0);
  if (size > ctx.cfg.max_upload_bytes) {
    co_await ex.respond_error(http::status::payload_too_large, "payload_too_large",
                              "upload of " + std::to_string(size) +
                                  " bytes exceeds MAX_UPLOAD_BYTES (" +
                                  std::to_string(ctx.cfg.max_upload_bytes) + ")");
    co_return true;
  }
  const auto free = ctx.store.free_bytes();
  if (!free || *free < ctx.cfg.min_free_bytes + size) {
    spdlog::warn("refusing upload from {}: storage free space below MIN_FREE_BYTES", client);
    co_await ex.respond_error(http::status::insufficient_storage, "insufficient_storage",
                              "the receiver is low on disk space");
    co_return true;
  }
  if (!ctx.store.hold(hold_key, client, size, ctx.cfg.quota_bytes)) {
    co_await ex.respond_error(http::status::insufficient_storage, "quota_exceeded",
                              "client " + client + " would exceed its QUOTA_BYTES");
    co_return true;
  }
  co_return false;
}

bool out_of_space_while_streaming(receiver_context& ctx, const std::string& client,
                                  const std::string& hold_key, std::uint64_t received) {
  const auto free = ctx.store.free_bytes();
  if (!free || *free < ctx.cfg.min_free_bytes) return true;
  return !ctx.store.hold(hold_key, client, received, ctx.cfg.quota_bytes);
}

}  // namespace pgship::receiver

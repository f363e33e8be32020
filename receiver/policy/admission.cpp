#include "policy/admission.hpp"
#include <algorithm>

#include <spdlog/spdlog.h>

namespace pgship::receiver {

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
                                        const std::string& hold_key, std::uint64_t on_disk,
                                        const std::function<void()>& before_answer) {
  const std::uint64_t size = declared.value_or(0);
  if (size > ctx.cfg.max_upload_bytes) {
    if (before_answer) before_answer();
    co_await ex.respond_error(http::status::payload_too_large, wire::api_error::payload_too_large,
                              "upload of " + std::to_string(size) +
                                  " bytes exceeds MAX_UPLOAD_BYTES (" +
                                  std::to_string(ctx.cfg.max_upload_bytes) + ")");
    co_return true;
  }
  const auto free = ctx.incoming.free_bytes();
  if (!free || *free < ctx.cfg.min_free_bytes + (size - std::min(size, on_disk))) {
    spdlog::warn("refusing upload from {}: storage free space below MIN_FREE_BYTES", client);
    if (before_answer) before_answer();
    co_await ex.respond_error(http::status::insufficient_storage,
                              wire::api_error::insufficient_storage,
                              "the receiver is low on disk space");
    co_return true;
  }
  if (!ctx.quota.hold(hold_key, client, size, ctx.cfg.quota_bytes)) {
    if (before_answer) before_answer();
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

#include "api/whoami_route.hpp"

#include "policy/access.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

net::awaitable<void> handle_whoami(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, std::nullopt);
  if (!who) co_return;
  const auto state = check_storage(ctx);
  std::optional<std::uint64_t> quota_left;
  if (ctx.cfg.quota_bytes) quota_left = ctx.quota.left(who->client, *ctx.cfg.quota_bytes);
  const auto body = wire::to_json(whoami_of(*who, state, quota_left));
  co_await ex.respond_json(http::status::ok, body);
}

}  // namespace

wire::whoami_reply whoami_of(const principal& who, const storage_state& state,
                             std::optional<std::uint64_t> quota_left) {
  wire::whoami_reply reply;
  reply.client = who.client;
  reply.scopes = scope_names(who.scopes);
  reply.free_bytes = state.free_bytes;
  reply.quota_left_bytes = quota_left;
  if (!who.may(scope::upload)) {
    reply.reason = "this token has no upload scope";
  } else if (!state.upload_blocker().empty()) {
    reply.reason = state.upload_blocker();
  } else if (quota_left && *quota_left == 0) {
    reply.reason = "client " + who.client + " has used up its QUOTA_BYTES";
  }
  reply.can_upload = reply.reason.empty();
  return reply;
}

void add_whoami_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  routes.add(http::verb::get, wire::whoami_path,
             [ctx](exchange& ex) { return handle_whoami(ex, *ctx); });
}

}  // namespace pgship::receiver

#include "api/status_routes.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/metrics_text.hpp>
#include <pgship/common/version.hpp>
#include <pgship/common/whoami.hpp>
#include <pgship/common/wire/paths.hpp>

#include "policy/storage_state.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;

net::awaitable<void> handle_health(exchange& ex, receiver_context& ctx) {
  boost::json::object body;
  const auto state = check_storage(ctx);
  std::string reason = state.upload_blocker();
  if (reason.empty()) {
    if (const auto corrupt = ctx.store->quarantined(); corrupt > 0) {
      reason = std::to_string(corrupt) +
               " stored backup(s) failed a scrub (their bytes no longer match their sha256) and "
               "are in .quarantine/";
    }
  }
  body["status"] = reason.empty() ? "ok" : "degraded";
  if (!reason.empty()) body["reason"] = reason;
  body["version"] = version;
  if (state.free_bytes) body["storage_free_bytes"] = *state.free_bytes;
  body["active_uploads"] = ctx.active_uploads.load();
  co_await ex.respond_json(reason.empty() ? http::status::ok : http::status::service_unavailable,
                           boost::json::serialize(body));
}

// Readiness: serving, and the storage takes writes. Low free space (uploads get 507, reads
// still work) and scrub findings (one client's backup) degrade /health, never this.
net::awaitable<void> handle_readyz(exchange& ex, receiver_context& ctx) {
  boost::json::object body;
  const auto state = check_storage(ctx);
  body["status"] = state.not_writable.empty() ? "ready" : "not_ready";
  if (!state.not_writable.empty()) body["reason"] = state.not_writable;
  body["version"] = version;
  co_await ex.respond_json(
      state.not_writable.empty() ? http::status::ok : http::status::service_unavailable,
      boost::json::serialize(body));
}

net::awaitable<void> handle_metrics(exchange& ex, receiver_context& ctx) {
  ctx.metrics.refresh(*ctx.store, ctx.incoming);
  if (const auto* archive = ctx.store->wal()) ctx.metrics.refresh_wal(*archive);
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, metrics_content_type);
  res.body() = render_metrics(ctx.metrics.registry());
  co_await ex.respond(std::move(res));
}

}  // namespace

void add_status_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  routes.add(http::verb::get, wire::health_path,
             [ctx](exchange& ex) { return handle_health(ex, *ctx); });
  routes.add(http::verb::get, wire::readyz_path,
             [ctx](exchange& ex) { return handle_readyz(ex, *ctx); });
  routes.add(http::verb::get, "/metrics", [ctx](exchange& ex) { return handle_metrics(ex, *ctx); });
}

}  // namespace pgship::receiver

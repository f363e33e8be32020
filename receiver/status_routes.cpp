#include "status_routes.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/metrics_text.hpp>
#include <pgship/common/version.hpp>

namespace pgship::receiver {
namespace {

using http_server::exchange;

net::awaitable<void> handle_health(exchange& ex, receiver_context& ctx) {
  boost::json::object body;
  std::string reason;
  const auto free = ctx.incoming.free_bytes();
  if (!ctx.incoming.writable()) {
    reason = "storage directory is not writable";
  } else if (!free) {
    reason = "cannot read free space of the storage file system";
  } else if (*free < ctx.cfg.min_free_bytes) {
    reason = "free space " + std::to_string(*free) + " bytes is below MIN_FREE_BYTES (" +
             std::to_string(ctx.cfg.min_free_bytes) + ")";
  } else if (auto trouble = ctx.store->problem(); !trouble.empty()) {
    reason = std::move(trouble);
  } else if (const auto corrupt = ctx.store->quarantined(); corrupt > 0) {
    reason = std::to_string(corrupt) +
             " stored backup(s) failed a scrub (their bytes no longer match their sha256) and "
             "are in .quarantine/";
  }
  body["status"] = reason.empty() ? "ok" : "degraded";
  if (!reason.empty()) body["reason"] = reason;
  body["version"] = version;
  if (free) body["storage_free_bytes"] = *free;
  body["active_uploads"] = ctx.active_uploads.load();
  co_await ex.respond_json(reason.empty() ? http::status::ok : http::status::service_unavailable,
                           boost::json::serialize(body));
}

net::awaitable<void> handle_metrics(exchange& ex, receiver_context& ctx) {
  ctx.metrics.refresh(*ctx.store, ctx.incoming);
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, metrics_content_type);
  res.body() = render_metrics(ctx.metrics.registry());
  co_await ex.respond(std::move(res));
}

}  // namespace

void add_status_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  routes.add(http::verb::get, "/health", [ctx](exchange& ex) { return handle_health(ex, *ctx); });
  routes.add(http::verb::get, "/metrics", [ctx](exchange& ex) { return handle_metrics(ex, *ctx); });
}

}  // namespace pgship::receiver

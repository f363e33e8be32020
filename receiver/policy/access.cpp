#include "policy/access.hpp"

#include <pgship/common/log.hpp>

namespace pgship::receiver {

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

}  // namespace pgship::receiver

#include "api/scrub_route.hpp"
#include <string>

#include "policy/access.hpp"

namespace pgship::receiver {

void add_scrub_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx,
                     std::shared_ptr<scrubber> scrub) {
  routes.add(http::verb::post, "/api/backup/scrub",
             [ctx, scrub](http_server::exchange& ex) -> net::awaitable<void> {
               const auto who = co_await authorize(ex, *ctx, scope::admin);
               if (!who) co_return;
               const bool started = scrub->start("api");
               const std::string body =
                   started ? "{\"status\":\"started\"}\n" : "{\"status\":\"already running\"}\n";
               co_await ex.respond_json(http::status::accepted, body);
             });
}

}  // namespace pgship::receiver

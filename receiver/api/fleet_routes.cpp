#include "api/fleet_routes.hpp"
#include <string>
#include <vector>

#include <boost/json/array.hpp>

#include <pgship/common/base64.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/sha256.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/version.hpp>
#include <pgship/common/wire/report.hpp>

#include "api/status_page.hpp"
#include "api/status_view.hpp"
#include "policy/access.hpp"

namespace pgship::receiver {

namespace {

namespace json = boost::json;
using http_server::exchange;

// The page runs its own inline script (named by its hash: no other script runs, even one
// that got into the page) and talks only to this receiver; nothing may frame it.
std::string page_policy() {
  static const std::string policy = [] {
    const auto html = status_page_html();
    const auto open = html.find("<script>");
    const auto close = html.find("</script>", open);
    const auto script = html.substr(open + 8, close - open - 8);
    const auto digest = sha256_of(script);
    return "default-src 'none'; script-src 'sha256-" +
           base64_encode(
               std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size())) +
           "'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
           "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
  }();
  return policy;
}

net::awaitable<void> handle_report(exchange& ex, receiver_context& ctx) {
  // Agents report with the token they hold: an upload token, or the read token of one that
  // only runs drills (DESIGN: upload or read).
  const auto who = co_await authorize(ex, ctx, std::nullopt);
  if (!who) co_return;
  if (!who->may(scope::upload) && !who->may(scope::read)) {
    co_await ex.respond_error(http::status::forbidden, wire::api_error::forbidden,
                              "reports need an upload or read token");
    co_return;
  }
  std::string body(wire::report_max_bytes + 1, '\0');
  const auto [ec, n] = co_await ex.read_body_full(net::buffer(body));
  if (ec || !ex.body_done() || n > wire::report_max_bytes) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "a report is a JSON object of at most 16 KiB");
    co_return;
  }
  body.resize(n);
  std::string why;
  const auto report = wire::decode_report(body, why);
  if (!report) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request, why);
    co_return;
  }
  std::error_code saved;
  std::function<void()> work = [&] { saved = ctx.reports.add(who->client, *report); };
  co_await ctx.on_storage_thread(work);  // it writes and fsyncs a file
  if (saved == std::errc::too_many_files_open) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "reports name more databases than a client may have");
    co_return;
  }
  if (saved) {
    log::write(spdlog::level::err, "report not kept: " + saved.message(),
               {{"client", who->client}});
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not keep the report");
    co_return;
  }
  co_await ex.respond_json(http::status::created, "{\"kept\":true}\n");
}

net::awaitable<void> handle_status(exchange& ex, receiver_context& ctx) {
  const auto who = co_await authorize(ex, ctx, scope::read);
  if (!who) co_return;
  const auto clients =
      who->may(scope::admin) ? ctx.tokens()->clients() : std::vector<std::string>{who->client};
  const auto now = std::chrono::system_clock::now();
  json::array out;
  std::error_code failure;
  std::function<void()> work = [&] {
    for (const auto& client : clients) {
      const auto records = ctx.store->list(client, std::nullopt);
      if (!records) {
        failure = records.error();
        return;
      }
      std::vector<wire::wal::archive_state> archives;
      if (auto* wal = ctx.store->wal()) {
        const auto systems = wal->systems(client);
        for (const auto& system : systems ? *systems : std::vector<std::string>{}) {
          const auto state = ctx.wal_ranges.state(*wal, {client, system});
          if (state && *state) archives.push_back(**state);
        }
      }
      out.push_back(client_status(client, *records, ctx.reports.of(client), archives, now));
    }
  };
  co_await ctx.on_storage_thread(work);
  if (failure) {
    const std::string detail = "cannot list the backups: " + failure.message();
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              detail);
    co_return;
  }
  const auto free = ctx.incoming.free_bytes();
  json::object body{
      {"schema", "pgship.status.v1"},
      {"generated", format_utc(now)},
      {"receiver", json::object{{"version", std::string(version)},
                                {"free_bytes", free ? json::value(*free) : json::value(nullptr)},
                                {"min_free_bytes", ctx.cfg.min_free_bytes}}},
      {"clients", std::move(out)}};
  co_await ex.respond_json(http::status::ok, json_text(body));
}

net::awaitable<void> handle_page(exchange& ex) {
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Content-Security-Policy", page_policy());
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.body() = std::string(status_page_html());
  co_await ex.respond(std::move(res));
}

}  // namespace

void add_fleet_routes(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  routes.add(
      http::verb::post, std::string(wire::reports_path),
      [ctx](exchange& ex) { return handle_report(ex, *ctx); },
      http_server::route_options{wire::report_max_bytes});
  routes.add(http::verb::get, "/api/status",
             [ctx](exchange& ex) { return handle_status(ex, *ctx); });
  if (ctx->cfg.status_page)
    routes.add(http::verb::get, "/", [](exchange& ex) { return handle_page(ex); });
}

}  // namespace pgship::receiver

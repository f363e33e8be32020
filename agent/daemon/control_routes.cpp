#include "daemon/control_routes.hpp"
#include <algorithm>
#include <charconv>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/crypto.h>

#include <pgship/common/http/exchange.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/metrics_text.hpp>
#include <pgship/common/wire/errors.hpp>

#include "daemon/wal_report.hpp"

namespace pgship::agent {
namespace {

using http_server::exchange;
namespace json = boost::json;

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// POST needs CONTROL_TOKEN when one is set; without one, only loopback may trigger runs.
net::awaitable<bool> refuse_unauthorised(exchange& ex, const settings& cfg) {
  if (cfg.control_token.empty()) {
    if (ex.peer_is_loopback()) co_return false;
    log::write(spdlog::level::warn, "control request refused: not from loopback",
               {{"peer", ex.peer_address()}});
    co_await ex.respond_error(http::status::forbidden, wire::api_error::forbidden,
                              "set CONTROL_TOKEN to allow control requests from other hosts");
    co_return true;
  }
  const auto header = ex.request()[http::field::authorization];
  const std::string_view prefix = "Bearer ";
  const bool ok =
      header.starts_with(prefix) && same_secret(header.substr(prefix.size()), cfg.control_token);
  if (ok) co_return false;
  log::write(spdlog::level::warn, "control request refused: missing or wrong token",
             {{"peer", ex.peer_address()}});
  co_await ex.respond_error(http::status::unauthorized, wire::api_error::unauthorized,
                            "Authorization: Bearer <CONTROL_TOKEN> is required");
  co_return true;
}

enum class job { backup, drill, basebackup };

net::awaitable<void> handle_start(exchange& ex, daemon_state& state, job what) {
  if (co_await refuse_unauthorised(ex, state.cfg())) co_return;
  std::vector<char> buffer(16 * 1024);
  auto [ec, n] = co_await ex.read_body_full(net::buffer(buffer));
  if (ec) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_body, ec.message());
    co_return;
  }
  std::vector<std::string> databases;
  std::optional<std::string> pitr_at;  // a drill's {"pitr": true, "at": ...}
  // A base backup is of the whole cluster: its body, if any, says nothing.
  if (n > 0 && what != job::basebackup) {
    boost::system::error_code jec;
    const auto body = json::parse(std::string_view(buffer.data(), n), jec);
    const auto* list =
        !jec && body.is_object() ? body.get_object().if_contains("databases") : nullptr;
    if (jec || !body.is_object() || (list != nullptr && !list->is_array())) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_body,
                                "expected {\"databases\": [\"name\", ...]} or no body");
      co_return;
    }
    const auto& o = body.get_object();
    if (what == job::drill && o.if_contains("pitr") != nullptr) {
      const auto* pitr = o.if_contains("pitr");
      const auto* at = o.if_contains("at");
      if (!pitr->is_bool() || (at != nullptr && !at->is_string()) || list != nullptr) {
        co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_body,
                                  "expected {\"pitr\": true, \"at\": \"latest|random|LSN|time\"}");
        co_return;
      }
      if (pitr->get_bool()) pitr_at = at != nullptr ? std::string(at->get_string()) : "latest";
    }
    if (list != nullptr) {
      for (const auto& v : list->get_array()) {
        const auto& known = state.cfg().databases;
        const std::string name = v.is_string() ? std::string(v.get_string()) : std::string();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          co_await ex.respond_error(http::status::bad_request, wire::api_error::unknown_database,
                                    "not one of POSTGRES_DB: " + json::serialize(v));
          co_return;
        }
        databases.push_back(name);
      }
    }
  }
  std::string active;
  const auto started = pitr_at                   ? state.start_pitr_drill("api", *pitr_at, active)
                       : what == job::drill      ? state.start_drill("api", databases, active)
                       : what == job::basebackup ? state.start_basebackup("api", active)
                                                 : state.start_run("api", databases, active);
  if (!started) {
    // Built outside the co_await: GCC 12 cannot keep this initializer list in the frame.
    json::object conflict;
    conflict["error"] = "run_in_progress";
    conflict["detail"] = "a job (a backup run, a restore drill or a base backup) is active";
    conflict["run_id"] = active;
    co_await ex.respond_json(http::status::conflict, json::serialize(conflict));
    co_return;
  }
  http_server::string_response res{http::status::accepted, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::location, "/api/v1/runs/" + *started);
  json::object accepted;
  accepted["run_id"] = *started;
  res.body() = json::serialize(accepted);
  co_await ex.respond(std::move(res));
}

net::awaitable<void> handle_runs(exchange& ex, daemon_state& state) {
  std::size_t limit = 50;
  if (const auto l = ex.query_param("limit")) {
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || p != l->data() + l->size()) {
      co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_limit,
                                "limit must be a number");
      co_return;
    }
    limit = std::clamp<std::size_t>(n, 1, 500);
  }
  state.sync();
  json::array runs;
  for (auto& r : state.history().newest(limit))
    runs.push_back(std::move(r));
  // Named first: GCC 12 and temporaries inside co_await.
  const auto text = json_text(runs);
  co_await ex.respond_json(http::status::ok, text);
}

net::awaitable<void> handle_run(exchange& ex, daemon_state& state) {
  const std::string id(ex.params().get("id"));
  state.sync();
  auto run = state.history().find(id);
  if (run && id == state.active_run()) {
    if (auto progress = state.live_progress()) (*run)["progress"] = std::move(*progress);
  }
  if (!run) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found, "no run " + id);
    co_return;
  }
  const auto text = json_text(*run);
  co_await ex.respond_json(http::status::ok, text);
}

net::awaitable<void> handle_health(exchange& ex, daemon_state& state) {
  state.sync();
  const auto report = state.health(std::chrono::system_clock::now());
  co_await ex.respond_json(report.healthy ? http::status::ok : http::status::service_unavailable,
                           report.json);
}

net::awaitable<void> handle_wal(exchange& ex, daemon_state& state) {
  if (state.wal() == nullptr) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                              "WAL_STREAM is off");
    co_return;
  }
  const auto text = json_text(wal_status_json(state.wal()->status()));
  co_await ex.respond_json(http::status::ok, text);
}

net::awaitable<void> handle_metrics(exchange& ex, daemon_state& state) {
  state.sync();
  http_server::string_response res{http::status::ok, 11};
  res.set(http::field::content_type, metrics_content_type);
  res.body() = state.metrics().render(std::chrono::system_clock::now());
  co_await ex.respond(std::move(res));
}

}  // namespace

void add_control_routes(http_server::router& routes, daemon_state& state) {
  auto* st = &state;
  routes.add(http::verb::get, "/health", [st](exchange& ex) { return handle_health(ex, *st); });
  routes.add(http::verb::get, "/livez", [](exchange& ex) -> net::awaitable<void> {
    co_await ex.respond_json(http::status::ok, R"({"status":"alive"})");
  });
  routes.add(http::verb::get, "/metrics", [st](exchange& ex) { return handle_metrics(ex, *st); });
  routes.add(http::verb::post, "/api/v1/backups",
             [st](exchange& ex) { return handle_start(ex, *st, job::backup); },
             {.body_limit = 16 * 1024});
  routes.add(http::verb::post, "/api/v1/drills",
             [st](exchange& ex) { return handle_start(ex, *st, job::drill); },
             {.body_limit = 16 * 1024});
  routes.add(http::verb::post, "/api/v1/basebackups",
             [st](exchange& ex) { return handle_start(ex, *st, job::basebackup); },
             {.body_limit = 16 * 1024});
  routes.add(http::verb::get, "/api/v1/runs", [st](exchange& ex) { return handle_runs(ex, *st); });
  routes.add(http::verb::get, "/api/v1/wal", [st](exchange& ex) { return handle_wal(ex, *st); });
  routes.add(http::verb::get, "/api/v1/runs/{id}",
             [st](exchange& ex) { return handle_run(ex, *st); });
}

}  // namespace pgship::agent

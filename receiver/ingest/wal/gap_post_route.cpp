#include "ingest/wal/gap_post_route.hpp"
#include <functional>
#include <string>

#include <pgship/common/log.hpp>
#include <pgship/common/wire/wal.hpp>

#include "policy/wal_access.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {
namespace {

using http_server::exchange;
namespace wal_wire = wire::wal;

// A gap record is a few hundred bytes.
constexpr std::size_t max_gap_body = 4096;

struct gap_step {
  result<std::optional<wal_system_meta>> system = std::nullopt;
  result<wal_put_outcome> put = std::error_code{};
};

net::awaitable<void> handle_post(exchange& ex, receiver_context& ctx) {
  wal_key key;
  wal_store* archive = co_await open_wal_archive(ex, ctx, scope::upload, key);
  if (!archive) co_return;
  std::string body(max_gap_body, '\0');
  const auto [ec, n] = co_await ex.read_body_full(net::buffer(body));
  if (ec || !ex.body_done()) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "a gap record is a JSON object of at most 4096 bytes");
    co_return;
  }
  body.resize(n);
  const auto gap = wal_wire::decode_gap(body);
  if (!gap) {
    co_await ex.respond_error(http::status::bad_request, wire::api_error::bad_request,
                              "a gap record is {\"timeline\", \"from\": \"X/X\", \"to\": \"X/X\" "
                              "(from < to), \"reason\", \"detected_at\"}");
    co_return;
  }
  gap_step step;
  std::function<void()> work = [&] {
    step.system = archive->system_meta(key);
    if (step.system && *step.system) step.put = archive->put_gap(key, *gap);
    if (step.put) ctx.wal_ranges.gap_recorded(key, *gap);
  };
  co_await ctx.on_storage_thread(work);
  const log::context lg{
      {"client", key.client}, {"system", key.system}, {"peer", ex.peer_address()}};
  if (step.system && !*step.system) {
    co_await ex.respond_error(http::status::not_found, wire::api_error::not_found,
                              "no physical archive of system " + key.system);
    co_return;
  }
  const auto failure = !step.system ? step.system.error()
                       : step.put   ? std::error_code{}
                                    : step.put.error();
  if (failure) {
    lg.error("WAL gap not recorded: {}", failure.message());
    co_await ex.respond_error(http::status::internal_server_error, wire::api_error::storage_error,
                              "could not record the gap");
    co_return;
  }
  const bool created = *step.put == wal_put_outcome::created;
  if (created) {
    lg.error(
        "WAL gap recorded: timeline {} misses [{}, {}) ({}, detected {}); recovery cannot "
        "cross it until a base backup after it",
        gap->timeline, wal::format_lsn(gap->from), wal::format_lsn(gap->to), gap->reason,
        gap->detected_at);
    auto e = events::make_event("wal.gap", "receiver");
    e.client = key.client;
    e.result = "gap";
    e.message = "timeline " + std::to_string(gap->timeline) + " misses [" +
                wal::format_lsn(gap->from) + ", " + wal::format_lsn(gap->to) + ") (" + gap->reason +
                "): recovery cannot cross it until a base backup after it";
    e.details["system"] = key.system;
    e.details["timeline"] = gap->timeline;
    e.details["from"] = wal::format_lsn(gap->from);
    e.details["to"] = wal::format_lsn(gap->to);
    e.details["detected_at"] = gap->detected_at;
    ctx.events.publish(std::move(e));
  }
  co_await ex.respond_json(created ? http::status::created : http::status::ok,
                           wal_wire::encode_gap(*gap));
}

}  // namespace

void add_wal_gap_route(http_server::router& routes, std::shared_ptr<receiver_context> ctx) {
  const std::string pattern =
      std::string(wal_wire::prefix) + "{system}" + std::string(wal_wire::gaps_part);
  routes.add(http::verb::post, pattern, [ctx](exchange& ex) { return handle_post(ex, *ctx); },
             {.body_limit = max_gap_body});
}

}  // namespace pgship::receiver
